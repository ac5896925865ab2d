"""Exercise 6, prefix_forward.py: matrix_to_slots against prefix's, by hand, and with gradients."""
import torch

from minigpt import GPTConfig
from prefix import matrix_to_slots as library_slots

CONFIG = GPTConfig(vocab_size=11, block_size=8, n_layer=3, n_head=2, n_embd=8)  # H = 2, D = 4
P, B = 5, 3


def test_shapes(ex):
    slots = ex.matrix_to_slots(torch.zeros(P, 3 * 2 * 8), CONFIG, B)
    assert len(slots) == CONFIG.n_layer, f"one (k, v) pair per layer: expected {CONFIG.n_layer}, got {len(slots)}"
    for k, v in slots:
        assert k.shape == v.shape == (B, 2, P, 4), \
            f"k and v must each be (B, H, P, D) = {(B, 2, P, 4)}, got {tuple(k.shape)} and {tuple(v.shape)}"


def test_hand_worked_layout(ex):
    # matrix[p, c] = 1000·p + c, so every number tells where it came from
    matrix = (1000 * torch.arange(P)[:, None] + torch.arange(3 * 2 * 8)[None, :]).double()
    slots = ex.matrix_to_slots(matrix, CONFIG, B)
    H, D, C = 2, 4, 8
    for layer in range(3):
        for which, name in ((0, "k"), (1, "v")):
            for head in range(H):
                for p in (0, 4):
                    want = matrix[p, layer * 2 * C + which * C + head * D:][:D]
                    got = slots[layer][which][1, head, p]
                    assert torch.equal(got, want), (
                        f"layer {layer} {name}, head {head}, prefix position {p}: expected matrix[{p}, "
                        f"{int(want[0]) % 1000}:{int(want[-1]) % 1000 + 1}], got the numbers {got.tolist()} "
                        f"(each is 1000·row + column of the matrix)")


def test_matches_library(ex):
    matrix = torch.randn(P, 3 * 2 * 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for (k, v), (k0, v0) in zip(ex.matrix_to_slots(matrix, CONFIG, B), library_slots(matrix, CONFIG, B)):
        assert torch.equal(k, k0) and torch.equal(v, v0), "differs from prefix.matrix_to_slots"


def test_every_batch_row_gets_the_same_prefix_and_gradients_flow(ex):
    matrix = torch.randn(P, 3 * 2 * 8, dtype=torch.float64, requires_grad=True)
    slots = ex.matrix_to_slots(matrix, CONFIG, B)
    for k, v in slots:
        assert all(torch.equal(k[0], k[b]) and torch.equal(v[0], v[b]) for b in range(B)), \
            "every row of the batch must get the same prefix"
    sum(k.sum() + v.sum() for k, v in slots).backward()
    assert matrix.grad is not None, "no gradient reached the matrix: keep the operations in torch (view/permute/expand)"
    assert torch.equal(matrix.grad, torch.full_like(matrix, B)), \
        "each matrix entry must appear exactly once per batch row (its gradient should be B everywhere)"

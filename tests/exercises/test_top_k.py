"""Exercise 4, top_k.py: top_k_filter by hand and against a sort, and sample_next against minigpt's rules."""
import torch

from minigpt.generate import sample_next as library_sample

INF = float("inf")


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def short(row):
    return "[" + ", ".join(f"{x:.2f}" for x in row.tolist()) + "]"


def test_filter_hand_worked(ex):
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    want = torch.tensor([[-INF, 3.0, 2.0, -INF]])
    got = ex.top_k_filter(logits, 2)
    assert torch.equal(got, want), f"top_k_filter({logits.tolist()}, 2) should be {want.tolist()}, got {got.tolist()}"
    ties = torch.tensor([[3.0, 1.0, 3.0, 3.0]])
    got = ex.top_k_filter(ties, 2)
    assert torch.equal(got, torch.tensor([[3.0, -INF, 3.0, 3.0]])), (
        f"top_k_filter({ties.tolist()}, 2) gave {got.tolist()}: values EQUAL to the k-th largest are kept "
        f"(compare with a threshold instead of keeping exactly k indices)")


def test_filter_matches_a_sort_per_row(ex):
    logits = rand(4, 10, seed=1)
    for k in (1, 3, 9):
        kth = logits.sort(dim=-1, descending=True).values[:, k - 1:k]  # (B, 1)
        want = torch.where(logits >= kth, logits, torch.full_like(logits, -INF))
        got = ex.top_k_filter(logits, k)
        assert got.shape == logits.shape, f"top_k_filter must keep the shape (B, V), got {tuple(got.shape)}"
        assert torch.equal(got, want), (f"k={k}: each ROW keeps its own k largest values unchanged, the rest -inf "
                                        f"(row 0 should be {short(want[0])}, got {short(got[0])})")


def test_filter_k_at_least_vocab_and_input_untouched(ex):
    logits = rand(2, 5, seed=2)
    before = logits.clone()
    assert torch.equal(ex.top_k_filter(logits, 5), logits), "k = V keeps every value"
    assert torch.equal(ex.top_k_filter(logits, 50), logits), "k > V keeps every value (clamp k to V)"
    ex.top_k_filter(logits, 2)
    assert torch.equal(logits, before), "top_k_filter changed its input; return a new tensor (no in-place edits)"


def test_sample_greedy_and_top_1(ex):
    logits = rand(3, 7, seed=3)
    want = logits.argmax(dim=-1, keepdim=True)
    got = ex.sample_next(logits, temperature=0)
    assert got.shape == (3, 1) and got.dtype == torch.long, \
        f"sample_next returns a (B, 1) long tensor, got {tuple(got.shape)} {got.dtype}"
    assert torch.equal(got, want), "temperature 0 must pick the most likely token of each row"
    assert torch.equal(got, library_sample(logits, temperature=0))
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        assert torch.equal(ex.sample_next(logits, 1.5, top_k=1, generator=g), want), \
            "top_k=1 leaves one token per row: it must always be the argmax, whatever the temperature"


def test_sample_follows_the_filtered_softmax(ex):
    # 20,000 rows of the same distribution: the draws' frequencies must match softmax(top-k(logits / T))
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0], dtype=torch.float64)
    n, temperature, k = 20_000, 0.7, 3
    draws = ex.sample_next(logits.expand(n, -1), temperature, top_k=k, generator=torch.Generator().manual_seed(0))
    assert draws.shape == (n, 1), f"sample_next returns (B, 1), got {tuple(draws.shape)}"
    freq = torch.bincount(draws.flatten(), minlength=5).double() / n
    want = torch.softmax(logits[:k] / temperature, dim=0)
    assert freq[k:].sum() == 0, "sampled a token outside the top k"
    assert torch.allclose(freq[:k], want, atol=0.02), (
        f"token frequencies {freq[:k].tolist()} should be close to {want.tolist()}: divide by the temperature, "
        f"filter, then softmax (in that order)")
    # the same generator state gives the same draws: the generator must be used
    a = ex.sample_next(logits.expand(50, -1), 1.0, generator=torch.Generator().manual_seed(1))
    b = ex.sample_next(logits.expand(50, -1), 1.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b), "two draws with equally seeded generators differ: pass `generator` to the sampler"

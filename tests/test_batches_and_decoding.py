"""Length-bucketed training batches and decoding prompts of different lengths in one batch (generate_ragged)."""
import pytest
import torch

from minigpt import GPT, generate, preset
from minigpt.generate import generate_ragged
from prefix import PrefixedGPT, PrefixTuning
from prefix.pairs import PairBatches, generate_targets

V = 61


def base_model(seed=0, **kw):
    torch.manual_seed(seed)
    return GPT(preset("nano", vocab_size=V, **kw)).double().eval()


def prefixed(base, positions, P=4, seed=1):
    torch.manual_seed(seed)
    prefix = PrefixTuning(base.config, P, reparam="mlp", hidden=16, positions=positions).double()
    with torch.no_grad():
        for t in prefix.parameters():
            t.mul_(20.0)  # values far from zero, so an equality is not about an empty prefix
    return PrefixedGPT(base, prefix).eval()


def prompts(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, V, (n,), generator=g).tolist() for n in lengths]


def alone(fn, prompt, n_new, **kw):
    """The new tokens generate() gives one prompt by itself."""
    return fn(torch.tensor([prompt]), n_new, **kw)[0, len(prompt):].tolist()


# -- generate_ragged ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("impl", ["explicit", "sdpa"])
def test_ragged_batch_gives_each_row_what_it_gets_alone(impl):
    base = base_model(attention=impl)
    rows = prompts([3, 9, 1, 6])
    batched = generate_ragged(base, rows, 12, temperature=0)
    assert batched == [alone(lambda i, n, **kw: generate(base, i, n, **kw), p, 12, temperature=0) for p in rows]


@pytest.mark.parametrize("positions", ["from_zero", "after_prefix"])
def test_ragged_batch_with_a_prefix_gives_each_row_what_it_gets_alone(positions):
    model = prefixed(base_model(), positions)
    rows = prompts([5, 2, 8], seed=1)
    batched = model.generate_ragged(rows, 10, temperature=0)
    assert batched == [alone(model.generate, p, 10, temperature=0) for p in rows]
    assert batched != generate_ragged(model.base, rows, 10, temperature=0), "the prefix changed nothing"


def test_ragged_rows_end_at_the_stop_token_and_long_requests_are_refused():
    base = base_model()
    rows = prompts([4, 7])
    free = generate_ragged(base, rows, 10, temperature=0)
    stop = free[0][2]  # a token row 0 makes: its output must end there
    stopped = generate_ragged(base, rows, 10, temperature=0, stop_token=stop)
    assert stopped[0] == free[0][:free[0].index(stop) + 1]
    for row, full in zip(stopped, free):  # every row is a prefix of its free run, cut at its first stop token
        assert row == full[:len(row)] and (row[-1] == stop or len(row) == len(full) or stop not in row)
    room = base.config.block_size
    with pytest.raises(ValueError, match="does not fit"):
        generate_ragged(base, prompts([room - 2, 3]), 5)
    with pytest.raises(ValueError, match="non-empty"):
        generate_ragged(base, [[1, 2], []], 5)


def test_per_row_positions_equal_one_offset_per_row():
    base = base_model()
    x = torch.randint(0, V, (3, 4), generator=torch.Generator().manual_seed(2))
    offsets = torch.tensor([0, 5, 2])
    together = base.embed(x, pos_offset=offsets)
    for b in range(3):
        assert torch.equal(together[b], base.embed(x[b:b + 1], pos_offset=int(offsets[b]))[0])
    with pytest.raises(ValueError, match="one first position per row"):
        base.embed(x, pos_offset=torch.tensor([0, 1]))


class CharEncoding:
    """A stand-in tokenizer: one id per character (ids < V), enough for generate_targets."""
    eot_token = 0

    def encode_ordinary(self, text):
        return [1 + ord(c) % (V - 1) for c in text]

    def decode(self, ids):
        return "".join(chr(ord("a") + i % 26) for i in ids)


def test_generate_targets_keeps_the_order_of_the_sources():
    base, enc = base_model(), CharEncoding()
    sources = ["a long source text", "ab", "medium one", "x"]
    outputs = generate_targets(base, enc, sources, max_new_tokens=6, batch_size=2)
    for source, out in zip(sources, outputs):
        ids = generate_ragged(base, [enc.encode_ordinary(source)], 6, temperature=0, stop_token=0)[0]
        assert out == enc.decode([t for t in ids if t != 0]).strip()


# -- length buckets ------------------------------------------------------------------------------------------------

def rows_of_lengths(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 40, (n,), generator=g).tolist()
    return [([1] * k, [-100] * (k - 1) + [2]) for k in lengths]


def padded_positions(batches, steps):
    return sum(batches("train", s)[0].numel() for s in range(steps))


def test_buckets_see_every_row_once_per_epoch_with_less_padding():
    rows = rows_of_lengths(96)
    bucketed = PairBatches.from_rows({"train": rows}, 8, pad_id=0, seed=3, bucket=4)
    plain = PairBatches.from_rows({"train": rows}, 8, pad_id=0, seed=3, bucket=1)
    order = bucketed.epoch_order("train", 0)
    assert sorted(order) == list(range(96))
    longest = [max(len(rows[i][0]) for i in order[b:b + 8]) for b in range(0, 96, 8)]
    falls = sum(later < earlier for earlier, later in zip(longest, longest[1:]))
    assert falls > 2, "3 length-sorted windows fall only twice: the batches should come in a shuffled order"
    assert padded_positions(bucketed, 12) < 0.8 * padded_positions(plain, 12)
    real = sum(len(x) for x, _ in rows)
    seen = sum(int(bucketed("train", s)[2].sum()) for s in range(12))  # one epoch = 12 batches of 8
    assert seen == real, "one epoch must hold every real token exactly once"


def test_bucketed_batches_are_the_same_for_the_same_step():
    rows = rows_of_lengths(50, seed=1)
    a = PairBatches.from_rows({"train": rows}, 8, pad_id=0, seed=0)
    b = PairBatches.from_rows({"train": rows}, 8, pad_id=0, seed=0)
    for step in (13, 0, 7, 13):  # any order, as a resumed run asks: the same batch each time
        assert all(torch.equal(s, t) for s, t in zip(a("train", step), b("train", step)))
    other = PairBatches.from_rows({"train": rows}, 8, pad_id=0, seed=1)
    assert not torch.equal(a("train", 0)[0], other("train", 0)[0]) or \
        not torch.equal(a("train", 1)[0], other("train", 1)[0])


def test_bucket_must_be_a_whole_number():
    with pytest.raises(ValueError, match="bucket"):
        PairBatches.from_rows({"train": rows_of_lengths(8)}, 4, pad_id=0, bucket=0)

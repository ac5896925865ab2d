"""Exercise 7, loss_mask.py: encode_pair_ids by hand and against prefix.pairs.encode_pair on real text."""
from minigpt.tokenizer import load_tokenizer
from prefix.pairs import encode_pair


def test_hand_worked_example(ex):
    x, y = ex.encode_pair_ids([10, 11, 12], [20, 21], 99)
    assert list(x) == [10, 11, 12, 20, 21], f"x is the model's input: source + target, without eot; got {list(x)}"
    assert list(y) == [-100, -100, 20, 21, 99], (
        f"y should be [-100, -100, 20, 21, 99], got {list(y)}: y[t] is the token after x[t]; "
        f"-100 only where that token is still part of the source")


def test_one_token_source_and_lengths(ex):
    x, y = ex.encode_pair_ids([7], [1, 2, 3], 0)
    assert (list(x), list(y)) == ([7, 1, 2, 3], [1, 2, 3, 0]), \
        f"with a 1-token source nothing is masked: expected x=[7, 1, 2, 3], y=[1, 2, 3, 0], got {list(x)}, {list(y)}"
    for n_src in range(1, 6):
        for n_tgt in range(0, 4):
            x, y = ex.encode_pair_ids(list(range(n_src)), list(range(50, 50 + n_tgt)), 99)
            assert len(x) == len(y) == n_src + n_tgt, "x and y must both have len(src) + len(tgt) entries"
            scored = [t for t in y if t != -100]
            assert scored == list(range(50, 50 + n_tgt)) + [99], \
                f"src of {n_src}, tgt of {n_tgt}: the loss must cover every target token and eot, nothing else"


def test_matches_library_on_real_text(ex):
    enc = load_tokenizer()
    pairs = [("name[The Eagle] food[French]", "The Eagle serves French food."),
             ("name[Zizzi] area[riverside] priceRange[cheap]", "Zizzi is a cheap place by the riverside."),
             ("a", "b")]
    for source, target in pairs:
        want = encode_pair(enc, source, target, block_size=128)
        # the library adds the space between source and target itself; here it is part of the target ids
        got = ex.encode_pair_ids(enc.encode_ordinary(source), enc.encode_ordinary(" " + target), enc.eot_token)
        assert (list(got[0]), list(got[1])) == (list(want[0]), list(want[1])), \
            f"differs from prefix.pairs.encode_pair on {source!r} -> {target!r}"

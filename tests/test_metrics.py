"""Tests for prefix.metrics: BLEU against sacrebleu, the rest against hand-worked cases."""

import math
import random

import pytest
import sacrebleu

from prefix.metrics import (accuracy, corpus_bleu, f1_score, macro_f1, mentions, rouge_l,
                            attribute_error_rate, tokenize)


def _sacrebleu(hyps, refs, **kw):
    """sacrebleu takes reference *streams* (refs[j][i]); pad with None where i has fewer refs."""
    n = max(len(r) for r in refs)
    streams = [[r[j] if j < len(r) else None for r in refs] for j in range(n)]
    return sacrebleu.corpus_bleu(hyps, streams, smooth_method="none", force=True, **kw).score


def _random_corpus(seed, n=300):
    """Hypotheses over a small vocabulary, references are noisy edits of them (1-4 each)."""
    rng = random.Random(seed)
    vocab = "the a pub cheap food near river serves is and , .".split()
    hyps, refs = [], []
    for _ in range(n):
        h = [rng.choice(vocab) for _ in range(rng.randint(1, 14))]
        rs = []
        for _ in range(rng.randint(1, 4)):
            r = [w if rng.random() < 0.7 else rng.choice(vocab) for w in h]
            r = r[:rng.randint(max(1, len(r) - 3), len(r))] + rng.choices(vocab, k=rng.randint(0, 3))
            rs.append(" ".join(r))
        hyps.append(" ".join(h))
        refs.append(rs)
    return hyps, refs


@pytest.mark.parametrize("seed", range(4))
def test_bleu_matches_sacrebleu_on_pretokenized_text(seed):
    hyps, refs = _random_corpus(seed)
    ours = corpus_bleu(hyps, refs, tokenize=False)
    assert 1 < ours < 99  # a non-trivial score, so the comparison means something
    assert ours == pytest.approx(_sacrebleu(hyps, refs, tokenize="none"), abs=1e-6)


def test_bleu_matches_sacrebleu_13a_with_punctuation_and_case():
    from data.e2e import load_e2e
    rows = load_e2e("test")[:200]
    hyps = [r["references"][0] for r in rows]
    refs = [r["references"][1:] for r in rows]  # 2-4 refs per row
    for lc in (False, True):
        ours = corpus_bleu(hyps, refs, lowercase=lc)
        assert ours == pytest.approx(_sacrebleu(hyps, refs, tokenize="13a", lowercase=lc), abs=1e-6)


def test_bleu_hand_cases():
    assert corpus_bleu(["a b c d e"], [["a b c d e"]]) == pytest.approx(100.0)
    assert corpus_bleu(["a b c d"], [["e f g h"]]) == 0.0
    # Brevity: all 4 precisions are 1 (4/4, 3/3, 2/2, 1/1); c=4, r=8 -> BP = exp(1 - 8/4) = e^-1.
    assert corpus_bleu(["a b c d"], [["a b c d e f g h"]]) == pytest.approx(100 * math.exp(-1))
    # Closest ref length: |4-6| = |4-2| -> tie goes to the shorter ref (2), so c > r and BP = 1.
    # (Taking 6 would give 100 * exp(1 - 6/4) = 60.65.)
    assert corpus_bleu(["a b c d"], [["a b c d e f", "a b"]]) == pytest.approx(100.0)
    # Clipping: "the" x4 is clipped at its max count in one ref (2 in the second ref) -> p1 = 2/4.
    # Closest ref length to 4 is 3 (< 4), so BP = 1 and BLEU-1 = 50.
    assert corpus_bleu(["the the the the"], [["the cat", "the the mat"]], max_n=1) == pytest.approx(50.0)
    # A hypothesis shorter than 4 tokens has no 4-grams -> p4 undefined -> 0 without smoothing.
    assert corpus_bleu(["a b c"], [["a b c"]]) == 0.0


def test_bleu_is_corpus_level_not_sentence_average():
    # Sentence 1 alone has no 4-gram match (BLEU 0) but the corpus pools the counts.
    hyps = ["a b c d", "e f g h i"]
    refs = [["a b c x"], ["e f g h i"]]
    # p1 = 8/9, p2 = 6/7, p3 = 4/5, p4 = 2/3; c = r = 9.
    expected = 100 * (8 / 9 * 6 / 7 * 4 / 5 * 2 / 3) ** 0.25
    assert corpus_bleu(hyps, refs) == pytest.approx(expected)


def test_tokenize_13a_rules():
    assert tokenize("The Eagle, near X, costs £20-25. It's 3.5!") == [
        "The", "Eagle", ",", "near", "X", ",", "costs", "£20", "-", "25", ".", "It's", "3.5", "!"]
    assert tokenize("Family-friendly (yes)", lowercase=True) == ["family-friendly", "(", "yes", ")"]


def test_input_validation():
    with pytest.raises(ValueError):
        corpus_bleu(["a"], [["a"], ["b"]])
    with pytest.raises(ValueError):
        corpus_bleu([], [])
    with pytest.raises(ValueError):
        corpus_bleu(["a"], ["a"])  # a bare string instead of a list of references
    with pytest.raises(ValueError):
        rouge_l(["a"], [[]])
    with pytest.raises(ValueError):
        accuracy([1, 2], [1])
    with pytest.raises(ValueError):
        f1_score([], [])
    with pytest.raises(ValueError):
        attribute_error_rate(["x"], [])


def test_rouge_l_hand_cases():
    # LCS("the cat sat on the mat", "the cat was on the mat") = "the cat on the mat" = 5;
    # P = R = 5/6, so F = 5/6 for any beta.
    assert rouge_l(["the cat sat on the mat"], [["the cat was on the mat"]]) == pytest.approx(500 / 6)
    # LCS("a b c", "a x b y c z") = "a b c" = 3: P = 3/3 = 1, R = 3/6 = 0.5.
    # beta = 1.2: F = 2.44 * 1 * 0.5 / (0.5 + 1.44 * 1) = 1.22 / 1.94.
    assert rouge_l(["a b c"], [["a x b y c z"]]) == pytest.approx(100 * 1.22 / 1.94)
    # beta = 1 gives plain F1 = 2 * 1 * 0.5 / 1.5 = 2/3.
    assert rouge_l(["a b c"], [["a x b y c z"]], beta=1.0) == pytest.approx(200 / 3)
    # LCS("b a", "a b") = 1 (order matters): P = R = 1/2.
    assert rouge_l(["b a"], [["a b"]]) == pytest.approx(50.0)
    # Best reference wins (100, not the mean over references); corpus = mean of [100, 0].
    assert rouge_l(["a b c", "d e"], [["x y z", "a b c"], ["f g"]]) == pytest.approx(50.0)
    # Tokenisation splits punctuation: "pub." -> "pub ." so hypothesis "pub" matches 1 of 2 tokens:
    # P = 1, R = 1/2 as above.
    assert rouge_l(["pub"], [["pub."]]) == pytest.approx(100 * 1.22 / 1.94)


def test_accuracy_and_f1_hand_cases():
    preds = ["a", "a", "b", "a", "b", "a"]
    labels = ["a", "b", "b", "a", "c", "c"]
    assert accuracy(preds, labels) == pytest.approx(3 / 6)
    # class a: TP=2 (pos 0,3), FP=2 (1,5), FN=0 -> F1 = 4/6.  class b: TP=1 (2), FP=1 (4), FN=1 (1) -> 2/4.
    # class c: never predicted -> TP=0 -> F1 = 0.
    assert f1_score(preds, labels, positive="a") == pytest.approx(4 / 6)
    assert f1_score(preds, labels, positive="b") == pytest.approx(2 / 4)
    assert f1_score(preds, labels, positive="c") == 0.0
    assert macro_f1(preds, labels) == pytest.approx((4 / 6 + 2 / 4 + 0) / 3)
    # binary with default positive=1: TP=1, FP=1, FN=1 -> 2/4
    assert f1_score([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.5)
    assert f1_score([0, 0], [0, 0]) == 0.0  # no positives anywhere: defined as 0
    assert accuracy([1, 2, 3], [1, 2, 3]) == 1.0


def test_mentions_and_attribute_error_rate_hand_cases():
    yes = ["family friendly", "kid friendly", "children are welcome"]
    no = ["not family friendly", "isn't family friendly", "adults only"]
    assert mentions("The Eagle is family-friendly.", yes)
    assert not mentions("The Eagle is not family-friendly.", yes)
    assert not mentions("The Eagle isn't kid friendly.", yes)
    assert mentions("The Eagle is not family-friendly.", no)
    assert not mentions("The Eagle is family-friendly.", no)
    # a negation in the previous sentence does not leak into the next one
    assert mentions("Smoking: no. Family-friendly: yes.", yes)
    # whole words only, case-insensitive
    assert mentions("A PUB by the river.", ["pub"])
    assert not mentions("A public house.", ["pub"])

    forms = [[["the eagle"], ["pub"], ["french"]], [["zizzi"], ["riverside", "river"]]]
    outputs = ["The Eagle is a French pub.", "Zizzi is in the city centre."]
    assert attribute_error_rate(outputs, forms) == pytest.approx(1 / 5)


def test_exact_match_and_token_f1_hand_cases():
    from prefix.metrics import exact_match, normalize_answer, token_f1
    assert normalize_answer("The Copper Kettle.") == ["copper", "kettle"]
    assert exact_match(["the Copper Kettle", "1911"], ["Copper Kettle", "1912"]) == 0.5
    # "Tovi" of "Tovi Marsk": precision 1, recall 1/2 -> F1 2/3; a wrong answer 0; a right one 1
    assert token_f1(["Tovi", "Dana Holt", "120 metres"], ["Tovi Marsk", "Ilsa Brin", "120 metres"]) == \
        pytest.approx((2 / 3 + 0 + 1) / 3)
    assert token_f1(["", "x"], ["", "y"]) == 0.5  # two empty answers agree
    with pytest.raises(ValueError):
        exact_match(["a"], [])


def test_confusion_matrix_rows_are_true_labels():
    from prefix.metrics import confusion_matrix
    assert confusion_matrix([1, 1, 0, 0, 1], [1, 0, 0, 0, 1]) == [[2, 1], [0, 2]]

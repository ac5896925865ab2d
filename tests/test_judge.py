"""The independent sentiment judge of lesson 9 (prefix/judge.py): a bag-of-words logistic regression."""
import pytest

from data.reviews import imdb_reviews
from prefix.judge import BagOfWordsJudge, words_and_pairs


def test_words_and_pairs_keep_negation_as_a_pair():
    assert words_and_pairs("Not GOOD, really!") == ["not", "good", "really", "not good", "good really"]
    assert words_and_pairs("it's fine") == ["it's", "fine", "it's fine"]


def test_it_learns_which_words_say_what_on_a_toy_set():
    texts = ["a good film", "good and fun", "fun , good", "a bad film", "bad and dull", "dull , bad"] * 3
    labels = [1, 1, 1, 0, 0, 0] * 3
    judge = BagOfWordsJudge.fit(texts, labels, min_count=1)
    assert judge.predict(["good fun", "dull bad", "a good film"]) == [1, 0, 1]
    best, worst = judge.strongest_words(2)
    assert set(best) <= {"good", "fun", "good and", "and fun", "fun good", "a good", "good film"}
    assert "bad" in worst or "dull" in worst
    assert judge.positive_probability(["zzz"]).item() == pytest.approx(1 / (1 + pow(2.718281828, -judge.bias)),
                                                                       rel=1e-4)  # no known word: the bias alone


def test_the_same_texts_give_the_same_judge():
    texts, labels = zip(*imdb_reviews("train")[:300])
    a = BagOfWordsJudge.fit(list(texts), list(labels))
    b = BagOfWordsJudge.fit(list(texts), list(labels))
    assert a.vocab == b.vocab and a.weight.equal(b.weight) and a.bias == b.bias


def test_bad_labels_are_refused_clearly():
    with pytest.raises(ValueError, match="as many labels as texts"):
        BagOfWordsJudge.fit(["a", "b"], [1])
    with pytest.raises(ValueError, match="0 .negative. or 1 .positive."):
        BagOfWordsJudge.fit(["a", "b"], [1, 2])


def test_it_reaches_85_percent_on_held_out_imdb_reviews():
    """Fitted on part of the IMDB training labels (the lesson uses all of them), scored on the 1,000 val reviews."""
    texts, labels = zip(*imdb_reviews("train")[:8000])
    judge = BagOfWordsJudge.fit(list(texts), list(labels))
    val = imdb_reviews("val")
    preds = judge.predict([t for t, _ in val])
    accuracy = sum(p == y for p, (_, y) in zip(preds, val)) / len(val)
    assert accuracy >= 0.85, accuracy

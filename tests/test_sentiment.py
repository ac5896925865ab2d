"""prefix/sentiment.py on a nano model: classify picks the likelier label word (all its tokens), batching and
padding change nothing, and the training rows put the loss exactly where the lessons say."""
import math

import pytest
import torch
import torch.nn.functional as F

from minigpt import GPT, preset
from minigpt.tokenizer import load_tokenizer
from prefix import PrefixedGPT, PrefixTuning
from prefix import sentiment
from prefix.sentiment import (LABEL_WORDS, candidate_rows, classify, cue_features, fit_probe, label_gaps, logits_fn,
                              review_example, rt_style, sample_perplexity, sentiment_pairs,
                              sentiment_words)
from prefix.pairs import encode_pair

SENTENCES = ["a charming , funny film .", "dull .", "the plot never comes together , and the actors look bored ."]


@pytest.fixture(scope="module")
def enc():
    return load_tokenizer()


@pytest.fixture(scope="module")
def model(enc):
    torch.manual_seed(0)
    return GPT(preset("nano", vocab_size=enc.n_vocab)).double().eval()


def label_logprob_alone(model, enc, sentence, word):
    """The reference: one unpadded row, log p of each label token given everything before it."""
    src = enc.encode_ordinary(sentence + sentiment.CUE)
    label = enc.encode_ordinary(" " + word)
    idx = torch.tensor([src + label])
    logp = F.log_softmax(model(idx).logits[0], dim=-1)
    return sum(logp[len(src) + j - 1, t].item() for j, t in enumerate(label))


def biased(model, token_ids, amount):
    """A forward_fn whose output head favours some tokens: a case where we know the answer."""
    def forward_fn(idx, attention_mask):
        logits = model(idx, attention_mask=attention_mask).logits.clone()
        logits[..., token_ids] += amount
        return logits
    return forward_fn


def test_labels_are_several_tokens(enc):
    assert all(len(enc.encode_ordinary(" " + w)) > 1 for w in LABEL_WORDS)  # so the tests below exercise that


def test_classify_follows_a_biased_head(model, enc):
    neg, pos = (enc.encode_ordinary(" " + w) for w in LABEL_WORDS)
    assert classify(biased(model, pos, 5.0), enc, SENTENCES) == [1, 1, 1]
    assert classify(biased(model, neg, 5.0), enc, SENTENCES) == [0, 0, 0]
    # Only the LAST token of the negative word is favoured: the first tokens alone would not decide it, the sum does.
    assert classify(biased(model, [neg[-1]], 8.0), enc, SENTENCES) == [0, 0, 0]
    assert classify(biased(model, [pos[-1]], 8.0), enc, SENTENCES) == [1, 1, 1]


def test_classify_equals_the_one_by_one_log_probabilities(model, enc, monkeypatch):
    # Labels of different lengths as well (1 token vs 3), so the rows of a batch end at different places.
    for words in (LABEL_WORDS, ("bad", "positive")):
        monkeypatch.setattr(sentiment, "LABEL_WORDS", words)
        expected = []
        for s in SENTENCES:
            scores = [label_logprob_alone(model, enc, s, w) for w in words]
            assert abs(scores[0] - scores[1]) > 1e-6  # no ties: the comparison below means something
            expected.append(int(scores[1] > scores[0]))
        forward_fn = logits_fn(model)
        batched = classify(forward_fn, enc, SENTENCES, batch_size=8)  # all in one padded batch
        one_by_one = [classify(forward_fn, enc, [s])[0] for s in SENTENCES]
        assert batched == one_by_one == expected


def test_threshold_moves_the_decision(model, enc):
    gaps = label_gaps(logits_fn(model), enc, SENTENCES)
    assert classify(logits_fn(model), enc, SENTENCES) == (gaps > 0).long().tolist()
    assert classify(logits_fn(model), enc, SENTENCES, threshold=gaps.max().item() + 1) == [0, 0, 0]
    assert classify(logits_fn(model), enc, SENTENCES, threshold=gaps.min().item() - 1) == [1, 1, 1]


def test_classify_works_for_a_prefixed_model_and_crops_long_texts(model, enc):
    torch.manual_seed(1)
    tuned = PrefixedGPT(model, PrefixTuning(model.config, 3, hidden=8).double()).eval()
    long_text = " ".join(["a long and winding sentence ,"] * 20)  # far more than the nano block_size of 32
    preds = classify(logits_fn(tuned), enc, SENTENCES + [long_text], max_len=model.config.block_size)
    assert len(preds) == 4 and set(preds) <= {0, 1}
    rows, spans = candidate_rows(enc, [long_text], max_len=model.config.block_size)
    assert all(len(r) <= model.config.block_size for r in rows)
    assert enc.decode(rows[1][:spans[1][0]]).endswith(sentiment.CUE)  # the cue survives the crop


def test_sentiment_pairs_put_the_loss_on_the_label_only(enc):
    (source, target), = sentiment_pairs([("great fun .", 1)])
    x, y = encode_pair(enc, source, target, block_size=128)
    scored = [t for t in y if t != -100]
    assert enc.decode(scored) == " thumbs up<|endoftext|>"


def test_review_rows_score_every_review_token_and_nothing_else(enc):
    text = "I loved this film. The cast is wonderful and the story is moving from start to finish."
    ids = enc.encode_ordinary(text)
    x, y = review_example(enc, text, n_tokens=10)
    assert x[0] == enc.eot_token and y == ids[:10] and x[1:] == y[:-1]  # every target is a review token
    x, y = review_example(enc, text, n_tokens=1000)
    assert y == ids and enc.eot_token not in y
    x, y = review_example(enc, text, n_tokens=10, part="end")  # the verdict: the review's last tokens
    assert x[0] == enc.eot_token and y == ids[-10:] and x[1:] == y[:-1]
    with pytest.raises(ValueError, match="choose one of"):
        review_example(enc, text, part="middle")


def test_rt_style_and_sentiment_words():
    assert rt_style("It's great, isn't it?\nYes!") == "it 's great , is n't it ? yes !"
    assert sentiment_words(["A great, GREAT film.", "Boring and bad, not great."]) == (1.5, 1.0)


def test_sample_perplexity_is_exp_of_the_mean_token_loss(model, enc):
    texts = ["a charming , funny film .", "dull ."]
    rows = [[enc.eot_token] + enc.encode_ordinary(t) for t in texts]
    nll = []  # the reference: each text alone, unpadded, every token after <|endoftext|> scored
    for r in rows:
        logp = F.log_softmax(model(torch.tensor([r])).logits[0], dim=-1)
        nll += [-logp[t, r[t + 1]].item() for t in range(len(r) - 1)]
    expected = math.exp(sum(nll) / len(nll))
    assert sample_perplexity(model, enc, texts, batch_size=2) == pytest.approx(expected, rel=1e-6)
    assert sample_perplexity(model, enc, texts, batch_size=1) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="non-empty"):
        sample_perplexity(model, enc, [""])


def test_cue_features_are_the_hidden_state_where_the_label_is_predicted(model, enc):
    feats = cue_features(model, enc, SENTENCES, batch_size=2)  # padded batches of two
    assert feats.shape == (len(SENTENCES), model.config.n_embd)
    for i, sentence in enumerate(SENTENCES):
        idx = torch.tensor([enc.encode_ordinary(sentence + sentiment.CUE)])
        hidden, _ = model.hidden_states(model.embed(idx))
        assert torch.allclose(feats[i], hidden[0, -1].float(), atol=1e-6)


def test_a_linear_probe_finds_a_direction_that_is_there_and_not_one_that_is_not():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 16, generator=g)
    y = (x[:, 3] - 0.5 * x[:, 7] > 0).long()  # the label is a direction of the features
    score = fit_probe(x[:300], y[:300])
    assert ((score(x[300:]) > 0).long() == y[300:]).float().mean() > 0.95
    noise = torch.randint(0, 2, (400,), generator=g)  # a label no direction holds
    score = fit_probe(x[:300], noise[:300])
    assert abs(((score(x[300:]) > 0).long() == noise[300:]).float().mean() - 0.5) < 0.15
    with pytest.raises(ValueError, match="0/1"):
        fit_probe(x, torch.full((400,), 2))

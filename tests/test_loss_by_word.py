"""Lesson 7's word-by-word loss: which word each target token is part of, which kind of word that is, and the
loss of every target token (prefix.pairs.target_token_words / target_token_losses, data.e2e.target_word_group)."""
import pytest
import torch

from data.e2e import HELD_OUT_WORDS, WORD_GROUPS, load_e2e, target_word_group
from minigpt import GPT, preset
from minigpt.tokenizer import load_tokenizer
from prefix.pairs import encode_pair, pad_pairs, target_token_losses, target_token_words

SOURCE = "name[The Olive Grove] | eatType[pub] | food[Fast food] | priceRange[£20-25] | customer rating[3 out of 5] =>"
TARGET = "The Olive Grove is a kid-friendly pub near Ranch, with prices of £20-25. Rated 3 out of 5!"


@pytest.fixture(scope="module")
def enc():
    return load_tokenizer()


def test_every_token_gets_the_word_it_is_part_of(enc):
    ids = enc.encode_ordinary(" " + TARGET)
    words = target_token_words(enc, TARGET)
    assert len(words) == len(ids) + 1 and words[-1] is None  # one per target token, then <|endoftext|>
    runs = [w for i, w in enumerate(words) if w is not None and (i == 0 or words[i - 1] != w)]
    assert runs == ["the", "olive", "grove", "is", "a", "kid-friendly", "pub", "near", "ranch", "with", "prices",
                    "of", "£20-25", "rated", "3", "out", "of", "5"]
    for token, word in zip(ids, words):
        piece = enc.decode_single_token_bytes(token).strip().lower()
        if word is None:
            assert not any(chr(b).isalnum() for b in piece), piece  # punctuation only
        else:
            assert piece in word.encode(), (piece, word)  # a token is a piece of its word


def test_word_groups_follow_the_held_out_rule_and_the_source():
    assert target_word_group("pub", SOURCE) == "held out"  # a value, but restaurant vocabulary first
    assert target_word_group("kid-friendly", SOURCE) == "held out"
    assert target_word_group("coffee", SOURCE) == "held out"
    assert target_word_group("olive", SOURCE) == "copied"
    assert target_word_group("£20-25", SOURCE) == "copied"
    assert target_word_group("3", SOURCE) == "copied"
    assert target_word_group("fast", SOURCE) == "copied"
    assert target_word_group("fast", "name[Wildwood] | area[riverside] =>") == "sentence"
    assert target_word_group("riverside", "name[Wildwood] | area[riverside] =>") == "copied"
    assert target_word_group("ranch", SOURCE) == "sentence"  # not in this source
    assert target_word_group("which", SOURCE) == "sentence"
    assert target_word_group("expensive", SOURCE) == "sentence"
    assert target_word_group(None, SOURCE) == "sentence"
    assert {"pub", "food", "cuisine", "kid-friendly", "family-friendly"} <= HELD_OUT_WORDS
    assert not {"family", "friendly", "price", "rating"} & HELD_OUT_WORDS  # everyday words of stage 5


def test_every_group_occurs_in_the_task(enc):
    groups = {target_word_group(w, r["source"]) for r in load_e2e("val")[:50] for w in target_token_words(enc, r["target"])}
    assert groups == set(WORD_GROUPS)


def test_token_losses_average_to_the_training_loss_and_ignore_padding(enc):
    torch.manual_seed(0)
    model = GPT(preset("nano", block_size=256, vocab_size=enc.n_vocab)).double().eval()
    rows = load_e2e("val")[:3]
    pairs = [(r["source"], r["target"]) for r in rows]
    losses = target_token_losses(model, enc, pairs, block_size=256, batch_size=3)
    assert [len(l) for l in losses] == [len(target_token_words(enc, t)) for _, t in pairs]
    x, y, mask = pad_pairs([encode_pair(enc, s, t, 256) for s, t in pairs], enc.eot_token)
    training_loss = model(x, y, attention_mask=mask).loss.item()  # the model's own mean over target tokens
    flat = [v for l in losses for v in l]
    assert sum(flat) / len(flat) == pytest.approx(training_loss, rel=1e-9)
    one_by_one = target_token_losses(model, enc, pairs, block_size=256, batch_size=1)  # no padding at all
    for a, b in zip(losses, one_by_one):
        assert a == pytest.approx(b, rel=1e-9)


def test_a_token_of_spaces_alone_is_in_no_word(enc):
    target = "The Eagle  is near Ranch."  # two spaces: the tokenizer gives one of them a token of its own
    ids = enc.encode_ordinary(" " + target)
    words = target_token_words(enc, target)
    spaces = [w for token, w in zip(ids, words) if not enc.decode_single_token_bytes(token).strip()]
    assert spaces and all(w is None for w in spaces)  # the case occurs, and such a token belongs to no word
    runs = [w for i, w in enumerate(words) if w is not None and (i == 0 or words[i - 1] != w)]
    assert runs == ["the", "eagle", "is", "near", "ranch"]

"""Tests for the records pretraining corpus (data/records.py): seeded, every value stated, restaurants held out."""

import random
import re

from data import e2e
from data.records import DOMAINS, describe, format_record, record_texts, record_tokens, sample_record
from minigpt.tokenizer import load_tokenizer


def test_same_seed_same_texts_other_seed_other_texts():
    assert record_texts(50, seed=3) == record_texts(50, seed=3)
    assert record_texts(50, seed=3) != record_texts(50, seed=4)


def test_every_value_is_copied_into_the_description():
    rng = random.Random(0)
    for _ in range(500):
        domain, record = sample_record(rng)
        text = describe(domain, record, rng)
        assert len(record) >= 3  # the subject and at least two more keys
        for value in record.values():
            assert value in text, (record, text)


def test_source_uses_the_e2e_format():
    record = {"title": "Red Tower", "year": "1999"}
    assert format_record(record) == "title[Red Tower] | year[1999] =>"
    source, description = record_texts(1, seed=0)[0].split(" => ")
    assert re.fullmatch(r"\w+\[[^\]]+\]( \| [\w ]+\[[^\]]+\])+", source)
    assert description.endswith(".")


def test_restaurants_are_held_out():
    e2e_keys = set(e2e.SLOT_ORDER)
    e2e_words = {w.lower() for name in e2e.NAMES + e2e.NEAR_NAMES for w in name.split()} - {"the", "of"}
    for subject, slots in DOMAINS.values():
        assert not ({subject} | set(slots)) & e2e_keys
    text = " ".join(record_texts(2000, seed=0)).lower()
    for phrase in ("restaurant", "pub", "coffee shop", "cuisine", "riverside", "family-friendly", "price"):
        assert not re.search(rf"\b{phrase}\b", text), phrase
    words = set(re.findall(r"[a-z]+", text))
    assert len(words & e2e_words) < 0.1 * len(e2e_words)  # hardly any venue-name word (a few common ones: "blue"...)


def test_record_tokens_end_every_record_with_eot():
    enc = load_tokenizer()
    tokens = record_tokens(enc, 3000, seed=0)
    assert len(tokens) >= 3000 and tokens.dtype.name == "uint16"
    assert tokens[-1] == enc.eot_token
    docs = enc.decode(tokens.tolist()).split("<|endoftext|>")[:-1]
    assert docs == record_texts(len(docs), seed=0)


def test_unseen_records_are_not_among_the_pretraining_records():
    """Lesson 7 asks whether the base copies names it has never seen: those records must not be in lesson 4's text."""
    from data.records import unseen_records
    # lesson 4 (seed 0) draws chunks of 2,000 records with seeds 0, 1, 2, ... (record_tokens); 20 chunks cover it
    trained = {text[:text.index("=>") + 2] for k in range(20) for text in record_texts(2000, seed=k)}
    held_out = unseen_records(200)
    assert len(held_out) == 200 and not trained & {source for source, _ in held_out}
    people = {text[:text.index("]")] for text in trained if text.startswith("person[")}
    new_people = [source[:source.index("]")] for source, _ in held_out if source.startswith("person[")]
    assert new_people and sum(p in people for p in new_people) <= len(new_people) // 10  # names are made up anew

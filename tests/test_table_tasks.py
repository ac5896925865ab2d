"""The generated tasks of lesson 10 (data/table_qa.py, data/dialogue.py): seeded, answerable from the table, new to
the base (keys and questions that the pretraining web never used), and scored by what the table says."""
import random
import re

import pytest

from data import dialogue, table_qa
from data.web import DOMAINS, web_texts


def test_splits_are_seeded_and_test_tables_are_new():
    assert table_qa.table_qa_split("test") == table_qa.table_qa_split("test")
    train = {r["source"].split(" Q:")[0] for r in table_qa.table_qa_split("train")}
    test = table_qa.table_qa_split("test")
    assert len(test) == table_qa.SPLIT_SIZES["test"] and not train & {r["source"].split(" Q:")[0] for r in test}
    with pytest.raises(ValueError, match="split must be one of"):
        table_qa.table_qa_split("dev")


def test_every_answer_is_a_value_of_its_table_and_every_key_is_asked():
    rows = table_qa.table_qa_split("train")
    for r in rows:
        assert r["answer"] == r["table"][r["key"]] and f"{r['key']}[{r['answer']}]" in r["source"]
        assert r["source"].endswith(" A:")
    assert {r["key"] for r in rows} == set(table_qa.KEYS)


def test_keys_and_questions_are_new_to_the_pretraining_web():
    web_keys = {k for keys in DOMAINS.values() for k in keys} | {"name"}
    assert not set(table_qa.KEYS) & web_keys
    web = "\n".join(web_texts(3000, seed=0) + web_texts(3000, seed=1, listings=0.5))
    asked = set(re.findall(r"Q: (.*?) A:", web))
    assert asked and all(q.startswith("what is the ") for q in asked)  # the web's one form of question
    questions = {q for _, qs in table_qa.KEYS.values() for q in qs}
    assert not questions & asked and not any(q.startswith("what is the ") for q in questions)


def test_dialogue_replies_are_right_by_their_own_scorer_and_wrong_ones_are_caught():
    rows = dialogue.dialogue_split("train")
    assert rows == dialogue.dialogue_split("train") and {r["intent"] for r in rows} == set(dialogue.INTENTS)
    assert all(dialogue.reply_is_right(r, r["target"]) for r in rows)
    rng = random.Random(0)
    for r in rows[:200]:  # the same reply for the opposite table must be caught
        flipped = dict(r["table"])
        if r["intent"] == "room":
            flipped["rooms"] = "0" if r["table"]["rooms"] != "0" else "4"
        elif r["intent"] == "price":
            flipped["price"] = f"${int(r['table']['price'][1:]) + 10}"
        else:
            flipped[r["intent"]] = {"yes": "no", "no": "yes"}[r["table"][r["intent"]]]
        assert not dialogue.reply_is_right({**r, "table": flipped}, r["target"]), r
        assert not dialogue.reply_is_right(r, dialogue.reply(flipped, r["intent"], rng))


def test_a_reply_needs_the_exact_number():
    row = {"table": {"name": "Oak", "rooms": "3", "price": "$120", "breakfast": "no", "pets": "no"}, "intent": "room"}
    assert dialogue.reply_is_right(row, "Yes, Oak has 3 rooms free, at $120 a night.")
    assert not dialogue.reply_is_right(row, "Yes, Oak has 13 rooms free, at $120 a night.")
    assert not dialogue.reply_is_right(row, "Yes, Oak has 3 rooms free, at $1200 a night.")
    assert not dialogue.reply_is_right(row, "Sorry, Oak is full tonight.")


def test_a_reply_that_says_neither_yes_nor_no_is_wrong():
    row = {"table": {"name": "Oak", "rooms": "3", "price": "$120", "breakfast": "yes", "pets": "no"},
           "intent": "breakfast"}
    assert dialogue.reply_is_right(row, "Yes, breakfast is included.")
    assert not dialogue.reply_is_right(row, ",,,,")
    assert not dialogue.reply_is_right(row, "Breakfast is included.")
    assert not dialogue.reply_is_right(row, "Yes, we do not serve breakfast.")  # a yes taken back
    assert not dialogue.reply_is_right(row, "Yes, breakfast isn't included.")


def test_a_reply_about_something_else_is_wrong():
    row = {"table": {"name": "Oak", "rooms": "3", "price": "$120", "breakfast": "yes", "pets": "no"},
           "intent": "breakfast"}
    assert not dialogue.reply_is_right(row, "Yes, we have 3 rooms free, at $120 a night.")
    assert not dialogue.reply_is_right(row, "Yes, Oak Jan.")

"""Question answering over tables: a generated, seeded task for lesson 10.

    name[Copper Works] | founder[Tovi Marsk] | built[1911] | floors[12] Q: who founded it? A:  ->  Tovi Marsk

The answer is always a value of the table, so the skill is the one the course base learned in pretraining (read a
table, copy a value), asked in a new way. The task is new to the base twice over:
- its keys are none of the web's (data/web.py: DOMAINS), and
- its questions are none of the web's: the web asks only "Q: what is the <key>? A:", here a question says
  "who founded it?", "how tall is it?", "where is it?" and never names its key.
So a model must learn which key each question is about (tests/test_table_qa.py checks both).

    python -m data.table_qa        # prints a few examples
"""
from __future__ import annotations

import random

from .web import made_up, person_name, place, thing_name

# key -> (value sampler, questions about it). No key is a key of data/web.py's DOMAINS.
KEYS = {
    "founder": (person_name, ("who founded it?", "who started it?")),
    "architect": (person_name, ("who designed it?", "whose design is it?")),
    "built": (lambda r: str(r.randint(1700, 2020)), ("when was it built?", "in which year was it built?")),
    "height": (lambda r: f"{r.randint(8, 400)} metres", ("how tall is it?", "how high is it?")),
    "floors": (lambda r: str(r.randint(2, 90)), ("how many floors does it have?", "how many storeys has it got?")),
    "location": (place, ("where is it?", "where can it be found?")),
    "visitors": (lambda r: f"{r.randint(2, 900)},000 a year", ("how many people visit it?", "how busy is it?")),
    "opens": (lambda r: f"{r.randint(6, 11)} am", ("when does it open?", "what time does it open?")),
    "motto": (lambda r: f"{made_up(r)} {made_up(r).lower()}", ("what does its motto say?", "which words are its motto?")),
}
SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}
SPLIT_SIZES = {"train": 3000, "val": 300, "test": 300}


def sample_question(rng: random.Random) -> dict:
    """{"table": {name, key: value, ...}, "key": the key asked about, "source": "... Q: ... A:", "answer": value}."""
    keys = rng.sample(sorted(KEYS), rng.randint(2, 5))
    table = {"name": thing_name(rng), **{k: KEYS[k][0](rng) for k in keys}}
    key = rng.choice(keys)
    question = rng.choice(KEYS[key][1])
    source = " | ".join(f"{k}[{v}]" for k, v in table.items()) + f" Q: {question} A:"
    return {"table": table, "key": key, "question": question, "source": source, "answer": table[key]}


def table_qa_split(split: str) -> list[dict]:
    """The rows of one split, the same every time; test tables appear in no other split."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be one of {sorted(SPLIT_SEEDS)}, got {split!r}")
    earlier = set()
    for other in ("train", "val"):  # a test (or val) row whose table was trained on is replaced by a new one
        if other == split:
            break
        earlier |= {row["source"].split(" Q:")[0] for row in table_qa_split(other)}
    rng = random.Random(1000 + SPLIT_SEEDS[split])
    rows = []
    while len(rows) < SPLIT_SIZES[split]:
        row = sample_question(rng)
        if row["source"].split(" Q:")[0] not in earlier:
            rows.append(row)
    return rows


if __name__ == "__main__":
    for row in table_qa_split("train")[:6]:
        print(row["source"], row["answer"])

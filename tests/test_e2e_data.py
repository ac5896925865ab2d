"""Tests for the seeded E2E-style data (data/e2e.py) and the committed split files."""

import collections
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from data import e2e
from data.e2e import (NAMES, NEAR_NAMES, PLANS, ATTRIBUTE_ORDER, VALUES, format_source, load_e2e, realize,
                      sample_mr, attribute_surface_forms, write_splits)
from prefix.metrics import mentions, attribute_error_rate

REPO = Path(__file__).resolve().parents[1]
SPLIT_SIZES = {"train": 4000, "val": 500, "test": 500}


@pytest.fixture(scope="module")
def splits():
    return {s: load_e2e(s) for s in SPLIT_SIZES}


def test_regenerating_with_seed_0_reproduces_committed_files(tmp_path):
    # Through the CLI, from the repo root, as the docs say.
    out = subprocess.run([sys.executable, "-m", "data.e2e", "--seed", "0", "--out", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "train: 4000 rows" in out
    for split in SPLIT_SIZES:
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (REPO / "data/e2e" / f"{split}.jsonl").read_bytes()
    assert not list(tmp_path.glob("*.tmp"))  # temp files were renamed away


def test_different_seed_differs(tmp_path):
    small = dict(n_train=50, n_val=10, n_test=10)
    for name, seed in (("a", 0), ("b", 1), ("c", 1)):
        write_splits(tmp_path / name, seed=seed, **small)
    read = lambda name: [(tmp_path / name / f"{s}.jsonl").read_bytes() for s in SPLIT_SIZES]  # noqa: E731
    assert read("b") == read("c")
    assert all(x != y for x, y in zip(read("a"), read("b")))


def test_sizes_and_no_mr_shared_between_splits(splits):
    for split, n in SPLIT_SIZES.items():
        assert len(splits[split]) == n
    mrs = {s: {r["source"] for r in rows} for s, rows in splits.items()}
    assert len(mrs["test"]) == 500  # test rows are unique MRs
    assert not mrs["train"] & mrs["val"] and not mrs["train"] & mrs["test"] and not mrs["val"] & mrs["test"]
    assert len(mrs["train"]) < 4000  # some training MRs come with several texts


SOURCE_RE = re.compile(r"name\[[^\[\]|]+\]( \| (eatType|food|priceRange|customer rating|area|familyFriendly|near)"
                       r"\[[^\[\]|]+\])* =>")


def test_rows_are_well_formed(splits):
    for rows in splits.values():
        for r in rows:
            assert SOURCE_RE.fullmatch(r["source"]), r["source"]
            mr = r["mr"]
            assert list(mr) == [s for s in ATTRIBUTE_ORDER if s in mr]  # canonical order
            assert 3 <= len(mr) <= 8
            assert r["source"] == " | ".join(f"{k}[{v}]" for k, v in mr.items()) + " =>"
            assert mr["name"] in NAMES
            for attribute, value in list(mr.items())[1:]:
                assert value in (NEAR_NAMES if attribute == "near" else VALUES[attribute])
            refs = r.get("references", [r["target"]])  # train rows carry only their target
            assert r["target"] in refs and len(set(refs)) == len(refs)


def test_references_group_texts_of_the_same_mr(splits):
    assert all("references" not in r for r in splits["train"])
    for split in ("val",):
        texts = collections.defaultdict(list)
        for r in splits[split]:
            texts[r["source"]].append(r["target"])
        for r in splits[split]:
            assert r["references"] == texts[r["source"]]
    for r in splits["test"]:
        assert 3 <= len(r["references"]) <= 5 and r["target"] == r["references"][0]


def test_every_reference_realises_every_attribute(splits):
    outputs, forms = [], []
    for rows in splits.values():
        for r in rows:
            for text in r.get("references", [r["target"]]):
                outputs.append(text)
                forms.append(attribute_surface_forms(r["mr"]))
    assert attribute_error_rate(outputs, forms) == 0.0


def test_dropped_attribute_is_detected():
    # Realise the MR without one attribute: that attribute's forms must then not be found (no accidental
    # matches from other attributes, names or generic words), for every attribute and every sentence plan.
    rng = random.Random(123)
    for i in range(300):
        mr = sample_mr(rng)
        for attribute in list(mr)[1:]:
            text = realize({k: v for k, v in mr.items() if k != attribute}, rng, PLANS[i % len(PLANS)])
            ser = attribute_error_rate([text], [attribute_surface_forms(mr)])
            assert ser == pytest.approx(1 / len(mr)), (attribute, mr[attribute], text)


def test_family_friendly_yes_and_no_are_distinguished():
    rng = random.Random(7)
    for _ in range(200):
        mr = {"name": "The Eagle", "eatType": "pub", "familyFriendly": rng.choice(["yes", "no"])}
        other = dict(mr, familyFriendly="no" if mr["familyFriendly"] == "yes" else "yes")
        text = realize(mr, rng)
        assert mentions(text, attribute_surface_forms(mr)[2]), text
        assert not mentions(text, attribute_surface_forms(other)[2]), text
    no = attribute_surface_forms({"name": "X", "familyFriendly": "no"})[1]
    yes = attribute_surface_forms({"name": "X", "familyFriendly": "yes"})[1]
    assert mentions("X is not family-friendly.", no) and not mentions("X is not family-friendly.", yes)
    assert mentions("X is family-friendly.", yes) and not mentions("X is family-friendly.", no)


def test_realisations_are_varied(splits):
    def skeleton(row):  # delexicalise names, food and venue type
        t, mr = row["target"], row["mr"]
        for attribute in ("name", "near", "eatType"):
            if attribute in mr:
                t = t.replace(mr[attribute], attribute.upper())
        if "food" in mr:
            t = t.replace("fast food", "FOOD").replace(mr["food"], "FOOD")
        return t

    skeletons = collections.Counter(skeleton(r) for r in splits["train"])
    assert len(skeletons) > 0.8 * len(splits["train"])
    assert skeletons.most_common(1)[0][1] <= 10
    openings = collections.Counter(" ".join(s.split()[:3]) for s in skeletons.elements())
    assert len(openings) >= 30 and openings.most_common(1)[0][1] < 0.4 * len(splits["train"])
    assert len(PLANS) >= 10
    # one-sentence and multi-sentence texts both occur
    n_sentences = collections.Counter(r["target"].count(". ") + 1 for r in splits["train"])
    assert n_sentences[1] > 500 and n_sentences[2] > 500


def test_format_source_example():
    mr = {"name": "The Eagle", "eatType": "pub", "food": "French", "area": "riverside"}
    assert format_source(mr) == "name[The Eagle] | eatType[pub] | food[French] | area[riverside] =>"


def test_load_e2e_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError):
        load_e2e("dev")
    monkeypatch.chdir(tmp_path)  # path is resolved from the package, not the cwd
    assert len(load_e2e("val")) == 500
    monkeypatch.setattr(e2e, "DATA_DIR", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"python -m data\.e2e"):
        load_e2e("train")


def test_extrapolation_splits_hold_out_what_they_say():
    from data.e2e import HELD_OUT_NAMES, HELD_OUT_PAIRS, extrapolation_splits
    splits = extrapolation_splits()
    pair = lambda r: (r["mr"].get("food"), r["mr"].get("area"))  # noqa: E731
    assert not any(r["mr"]["name"] in HELD_OUT_NAMES or pair(r) in HELD_OUT_PAIRS for r in splits["train"])
    assert all(r["mr"]["name"] in HELD_OUT_NAMES and pair(r) not in HELD_OUT_PAIRS for r in splits["unseen_names"])
    assert all(pair(r) in HELD_OUT_PAIRS and r["mr"]["name"] not in HELD_OUT_NAMES for r in splits["unseen_pairs"])
    trained_names = {r["mr"]["name"] for r in splits["train"]}
    assert trained_names and not trained_names & set(HELD_OUT_NAMES)
    assert min(len(v) for v in splits.values()) >= 40

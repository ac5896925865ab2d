"""Tests for the generated web of pretraining text (data/web.py): seeded, every value stated, names too many to
remember, shared keys, several formats, and the restaurant task held out."""
import collections
import random
import re

from data import e2e
from data.web import (DOMAINS, E2E_KEY_PHRASES, E2E_ONLY_KEYS, EVERYDAY_WORDS, NATIONALITIES, RESTAURANT_WORDS,
                      SHARED_KEYS, describe, everyday_document, format_source, listing_document,
                      listing_record, prose_description, real_words, record_document, sample_record, thing_name,
                      unseen_web_records, web_texts, web_tokens)
from minigpt.tokenizer import load_tokenizer


def test_same_seed_same_texts_other_seed_other_texts():
    assert web_texts(50, seed=3) == web_texts(50, seed=3)
    assert web_texts(50, seed=3) != web_texts(50, seed=4)


def test_every_value_is_copied_into_the_description():
    rng = random.Random(0)
    for _ in range(500):
        domain, record = sample_record(rng)
        text = describe(domain, record, rng)
        assert text.startswith(record["name"])
        for value in record.values():
            assert value in text, (record, text)


def test_keys_are_shared_across_domains_and_the_subject_is_always_name():
    for domain in DOMAINS:
        assert "name" not in DOMAINS[domain]  # the subject is added by sample_record, always as `name`
    for key in SHARED_KEYS[1:]:
        assert sum(key in keys for keys in DOMAINS.values()) >= 3, key
    rng = random.Random(1)
    assert all(next(iter(sample_record(rng)[1])) == "name" for _ in range(50))


def test_three_source_formats_questions_and_lists_all_occur():
    texts = web_texts(3000, seed=0)
    assert any(re.match(r"^\w+\[[^\]]+\]( \| [\w ]+\[[^\]]+\])* => ", t) for t in texts)
    assert any(re.match(r"^\w+: [^;]+(; \w+: [^;]+)* -- ", t) for t in texts)
    assert any(re.match(r"^\w+ = .+\n", t) for t in texts)
    assert any(" Q: what is the " in t and " A: " in t for t in texts)
    lists = [t for t in texts if re.match(r"^(list|items|names|words): ", t)]
    assert lists
    for t in lists:  # the same items, said twice
        first, second = re.match(r"^\w+: (.*)\. [\w ]+: (.*)\.$", t).groups()
        assert first == second


def test_the_word_file_is_the_reviews_vocabulary():
    """data/web/words.txt is what derive_real_words computes from the reviews (the course base was trained on it)."""
    from data.web import derive_real_words
    assert real_words() == derive_real_words()


def test_names_come_from_a_space_too_large_to_remember():
    assert len(real_words()) >= 5000
    rng = random.Random(0)
    names = [thing_name(rng) for _ in range(5000)]
    assert len(set(names)) > 0.9 * len(names)  # almost never the same name twice
    assert sum(any(w.lower() in real_words() for w in n.split()) for n in names) > 0.5 * len(names)  # real words


def _stage_webs(n=20_000):
    """{stage: its web} for the web's settings of stages 1, 2, 4 and 5 (stage 3's are stage 2's, stage 6's stage 5's:
    data.course_base.STAGES)."""
    return {1: "\n".join(web_texts(n, seed=0)), 2: "\n".join(web_texts(n, seed=1, listings=0.5)),
            4: "\n".join(web_texts(n, seed=2, listings=0.5, prose=0.7)),
            5: "\n".join(web_texts(n, seed=3, listings=0.5, prose=0.7, everyday=0.7))}


def test_restaurants_are_held_out():
    """No E2E-only key, nor the key said in words, no word of the restaurant vocabulary, no E2E name, in any stage's
    web: lesson 7's task is new to the base."""
    keys = {k for keys in DOMAINS.values() for k in keys}
    assert not keys & set(E2E_ONLY_KEYS)
    text = "\n".join(_stage_webs().values())
    for key in E2E_ONLY_KEYS:
        assert f"{key}[" not in text and f"{key}:" not in text and f"{key} =" not in text
    words = set(re.findall(r"[a-zé]+", text.lower()))
    assert not words & RESTAURANT_WORDS, sorted(words & RESTAURANT_WORDS)
    key_phrases = ("coffee shop", "family friendly", "kid friendly", "child friendly", "customer rating",
                   "price range", "fast food", "eat type")
    assert set(key_phrases) <= set(E2E_KEY_PHRASES)
    for phrase in key_phrases + ("friendly to families",):
        assert phrase not in text.lower(), phrase
    assert not re.search(r"(family|kid|child|children)[ -]?friendly", text, re.IGNORECASE)


def test_everyday_words_come_only_from_stage_5_on():
    """Stages 1-4 held the everyday words out with the restaurant vocabulary ("price" only of dollars); stage 5 (and
    stage 6, its mix again) says them of films, hotels and shops: nationalities, price levels, children, ratings, the
    city centre."""
    webs = _stage_webs()
    for stage in (1, 2, 4):
        words = set(re.findall(r"[a-zé]+", webs[stage].lower())) - set(SHARED_KEYS)  # "has a price of $12"
        assert not words & EVERYDAY_WORDS, (stage, sorted(words & EVERYDAY_WORDS))
    five = webs[5]
    for said in ("French", "Italian", "Japanese", "cheap", "expensive", "children", "families", "rated", "rating",
                 "city centre", "riverside", "£", "out of 5", "pet friendly"):
        assert said in five, said
    assert sum(n in five for n in NATIONALITIES) == len(NATIONALITIES)


def test_everyday_descriptions_state_every_value():
    """Every value of an everyday record is said, in words a reader would check for: a nationality, an area and a
    price in pounds as they are, a price level by its level, children yes/no by children or families."""
    rng = random.Random(4)
    checked = collections.Counter()
    for i in range(1500):
        doc = everyday_document(random.Random(rng.random()), prose=0.7 if i % 2 else 0.0)
        if " Q: " in doc:
            continue
        record, text = _source_and_text(doc)
        assert record["name"] in text, doc
        low = text.lower()
        for key, value in record.items():
            if key == "price" and value in ("cheap", "low"):
                ok = "cheap" in low or "low" in low or "costs little" in low
            elif key == "price" and value in ("expensive", "high"):
                ok = "expensive" in low or "high" in low
            elif key == "price" and value == "moderate":
                ok = "moderate" in low
            elif key == "children":
                ok = re.search(r"children|families|family|kids|adults", low) is not None and \
                    (value == "no") == bool(re.search(r"not welcome children|not for families|adults|not a place "
                                                      r"for kids", low))
            elif key.endswith("Friendly"):
                said = key[:-len("Friendly")] + " friendly"
                ok = said in low and ((value == "no") == (f"not {said}" in low))
            elif value in ("yes", "no"):
                ok = True  # a domain's own yes/no key: none today
            else:
                ok = value.lower() in low
            assert ok, (key, value, doc)
            checked[key] += 1
    assert {"origin", "style", "price", "rating", "area", "children"} <= set(checked), checked
    names = set(re.findall(r"name[\[:=] ?\[?([^\]|;\n]+)", text))
    assert not {n.strip().lower() for n in names} & {n.lower() for n in e2e.NAMES + e2e.NEAR_NAMES + e2e.UNSEEN_NAMES}


def test_source_formats():
    record = {"name": "Red Tower", "year": "1999"}
    rng = random.Random(5)  # no shuffle for this seed's first draw
    assert format_source(record, "brackets", random.Random(0)).count(" | ") == 1
    assert set(format_source(record, "colons", rng).split("; ")) == {"name: Red Tower", "year: 1999"}
    assert set(format_source(record, "lines", rng).split("\n")) == {"name = Red Tower", "year = 1999"}


def test_web_tokens_end_every_document_with_eot():
    enc = load_tokenizer()
    tokens = web_tokens(enc, 3000, seed=0)
    assert len(tokens) >= 3000 and tokens.dtype.name == "uint16"
    assert tokens[-1] == enc.eot_token
    docs = enc.decode(tokens.tolist()).split("<|endoftext|>")[:-1]
    assert docs == web_texts(len(docs), seed=0)


def test_unseen_records_are_not_among_the_pretraining_records():
    """The copy checks ask whether the base copies names it has never seen: those records must not be trained on."""
    trained = set()
    for chunk in range(10):  # web_tokens draws chunks of 4,000 documents with seeds 0, 1, 2, ...
        trained |= {t.split(" =>")[0] for t in web_texts(4000, seed=chunk)}
    held_out = unseen_web_records(300)
    assert len(held_out) == 300
    assert not trained & {source[:-3] for source, _ in held_out}
    trained_names = set(re.findall(r"name\[([^\]]+)\]", "\n".join(trained)))
    # One-word names ("Green", "The Logic") recur among millions of documents; most held-out names are new, and
    # none can be told from its record: the record as a whole was never trained on.
    assert sum(name in trained_names for _, name in held_out) <= 0.2 * len(held_out)


def test_mix_into_gives_the_asked_share_of_web_text():
    import numpy as np
    import pytest
    from data.web import mix_into
    enc = load_tokenizer()
    reviews = np.full(4000, 7, dtype=np.uint16)
    mixed, web = mix_into(enc, reviews, 0.25)
    assert np.array_equal(mixed[:4000], reviews) and np.array_equal(mixed[4000:], web)
    assert abs(len(web) / len(mixed) - 0.25) < 0.02  # whole documents: a little over the asked share
    assert np.array_equal(web, web_tokens(enc, 1333, seed=0))
    assert len(mix_into(enc, reviews, 0)[1]) == 0
    with pytest.raises(ValueError, match="0 <= share < 1"):
        mix_into(enc, reviews, 1.0)


def test_listings_state_every_value_and_name_every_key():
    """Stage 2's listings: keys of any kind (a word, a made-up word, a joined pair, two words), each value stated
    in the description beside the key's words; yes/no values say the key is, or is not, so."""
    rng = random.Random(0)
    kinds = collections.Counter()
    for _ in range(300):
        doc = listing_document(random.Random(rng.random()))
        source, text = re.split(r" => |\n=> | -- ", doc, maxsplit=1)
        record = dict(re.findall(r"(\w[\w ]*)\[([^\]]+)\]", source)) if "[" in source else None
        if record is None:
            continue
        assert text.startswith(record["name"]), doc
        for key, value in record.items():
            if key == "name":
                continue
            said = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).lower()
            assert said in text, (key, doc)
            if value == "no":
                assert re.search(rf"\b(not|no) (listed as )?{re.escape(said)}\b", text), (key, doc)
            elif value != "yes":
                assert value in text, (value, doc)
            kinds["joined" if re.search(r"[a-z][A-Z]", key) else "two words" if " " in key else "one word"] += 1
    assert min(kinds.values()) >= 30, kinds
    keys = {k for _ in range(2000) for k in listing_record(rng)}
    assert len(keys) > 5000  # a space of keys far too large to remember


def test_listings_leave_the_web_of_the_first_stage_as_it_was():
    """listings=0 gives the documents stage 1 of the course base read, exactly."""
    assert web_texts(300, seed=2, listings=0.0) == web_texts(300, seed=2)
    mixed = web_texts(300, seed=2, listings=0.5)
    assert mixed != web_texts(300, seed=2) and len(mixed) == 300


def test_the_mixed_stream_is_built_once_on_disk_with_its_composition(tmp_path):
    import numpy as np
    from data.web import mix_into, mixed_stream
    enc = load_tokenizer()
    reviews = np.arange(3000, dtype=np.uint16) % 2000
    stream, mix = mixed_stream(enc, reviews, 0.25, tmp_path, verbose=False)
    assert isinstance(stream, np.memmap) and not stream.flags.writeable  # on disk, read-only: the batcher slices it
    assert np.array_equal(stream, mix_into(enc, reviews, 0.25)[0])  # the same tokens as the in-memory mix
    assert mix["tokens"] == len(stream) and mix["web_tokens"] == len(stream) - 3000
    assert mix["settings"]["web_share"] == 0.25 and mix["web_documents"] > 0
    bins = sorted(tmp_path.glob("mixed-*.bin"))
    mtime = bins[0].stat().st_mtime_ns
    again, _ = mixed_stream(enc, reviews, 0.25, tmp_path, verbose=False)  # reused, not rebuilt
    assert bins[0].stat().st_mtime_ns == mtime and np.array_equal(again, stream)
    other, _ = mixed_stream(enc, reviews[:-1], 0.25, tmp_path, verbose=False)  # other reviews: another file
    assert len(sorted(tmp_path.glob("mixed-*.bin"))) == 2 and len(other) != len(stream)
    bins[0].with_suffix(".json").unlink()  # an unfinished file (no composition yet) is built again
    rebuilt, _ = mixed_stream(enc, reviews, 0.25, tmp_path, verbose=False)
    assert np.array_equal(rebuilt, stream)


def _source_and_text(doc):
    source, text = re.split(r" => |\n=> | -- ", doc, maxsplit=1)
    if "[" in source:
        return dict(re.findall(r"(\w[\w ]*)\[([^\]]+)\]", source)), text
    if ": " in source:
        return dict(item.split(": ", 1) for item in source.split("; ")), text
    return dict(line.split(" = ", 1) for line in source.split("\n")), text


def test_prose_descriptions_state_every_value_in_many_shapes():
    """Stage 4's prose: every value of a record or a listing is stated (yes/no keys by their words), the subject is
    named, and the six sentence shapes all occur, so the subject comes first in only some of them."""
    rng = random.Random(0)
    openings = collections.Counter()
    for i in range(1500):
        doc = (record_document if i % 2 else listing_document)(random.Random(rng.random()), prose=1.0)
        if " Q: " in doc:
            continue
        record, text = _source_and_text(doc)
        assert record["name"] in text, doc
        for key, value in record.items():
            if value in ("yes", "no"):
                said = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).lower()
                assert said in text, (key, doc)
                if value == "no":
                    assert re.search(rf"\b(not|no) (listed as )?{re.escape(said)}\b", text), (key, doc)
            else:
                assert value in text, (value, doc)
        openings["name" if text.startswith(record["name"] + " ") else "name," if text.startswith(record["name"] + ",")
                 else "there is" if text.startswith("There is ") else "a noun" if re.match(r"An? ", text)
                 else "in front"] += 1
    assert len(openings) == 5 and min(openings.values()) >= 40, openings
    assert sum(v for k, v in openings.items() if k.startswith("name")) < 0.6 * sum(openings.values())


def test_prose_puts_a_yes_key_before_the_noun_and_a_value_after_it():
    rng = random.Random(1)
    record = {"name": "Copper House", "type": "lantern", "open late": "yes", "roofColor": "red"}
    phrases = {"type": ["has a type of lantern"], "open late": ["is open late"],
               "roofColor": ["has a roof color of red"]}
    texts = {prose_description(record, phrases, rng, listing=True) for _ in range(300)}
    assert any("open late lantern called Copper House" in t or "open late lantern named Copper House" in t
               for t in texts), texts
    assert any("with a roof color of red" in t for t in texts)


def test_prose_zero_leaves_the_web_of_stages_1_to_3_as_it_was():
    assert web_texts(300, seed=2, listings=0.5, prose=0.0) == web_texts(300, seed=2, listings=0.5)
    assert web_texts(300, seed=2, listings=0.5, prose=0.7) != web_texts(300, seed=2, listings=0.5)


def test_everyday_zero_leaves_the_web_of_stage_4_as_it_was():
    assert web_texts(300, seed=2, listings=0.5, prose=0.7, everyday=0.0) == web_texts(300, seed=2, listings=0.5,
                                                                                      prose=0.7)
    assert web_texts(300, seed=2, listings=0.5, prose=0.7, everyday=0.7) != web_texts(300, seed=2, listings=0.5,
                                                                                      prose=0.7)

"""Records with descriptions: a seeded, generated pretraining corpus that teaches the base model to read and copy.

    title[Salt and Lanterns] | genre[western] | year[1987] | director[Tovi Marsk] =>  Salt and Lanterns is a western
    film from 1987. It was directed by Tovi Marsk.

Why it exists: prefix-tuning only *steers* a frozen model; it cannot give it an ability it lacks. GPT-2 read many
tables, infoboxes and their descriptions on the web, so it already knows how to read `key: value` data and copy
the values into a sentence; a prefix then only has to say "now describe a restaurant". Our model reads movie
reviews, where nothing is ever copied from a table. So lesson 4 mixes these records into the pretraining text
(`--records 0.25`: a quarter of the training tokens).

The restaurant domain of the E2E task (data/e2e.py) is held out: no record here is about a venue, and no key is an
E2E slot (name, eatType, food, priceRange, customer rating, area, familyFriendly, near). Names and titles are made
of random syllables and words, so the model must copy them, it cannot remember them.

    python -m data.records            # prints a few records
"""

from __future__ import annotations

import random

_SYLLABLES = ("ba", "bel", "cor", "da", "dor", "el", "fa", "gan", "hal", "is", "ka", "kel", "lin", "lo", "ma",
              "mir", "na", "nor", "o", "pa", "quin", "ra", "rin", "sa", "sel", "ta", "tor", "u", "vi", "ven",
              "wil", "ya", "zan", "zel", "bri", "cas", "dru", "fen", "gor", "jo")
_ADJECTIVES = ("Silent", "Golden", "Broken", "Hidden", "Last", "Red", "Winter", "Lonely", "Bright", "Distant",
               "Falling", "Quiet", "Burning", "Little", "Wild", "Frozen", "Secret", "Iron", "Paper", "Velvet")
_NOUNS = ("River", "Garden", "Mirror", "Harbor", "Lantern", "Crown", "Orchard", "Storm", "Letter", "Bridge",
          "Island", "Shadow", "Clock", "Forest", "Window", "Engine", "Feather", "Tower", "Road", "Song",
          "Salt", "Stone", "Smoke", "Glass", "Thunder", "Sparrow", "Compass", "Harvest")


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def person_name(rng: random.Random) -> str:
    return f"{_name(rng, rng.choice((2, 2, 3)))} {_name(rng, rng.choice((2, 3)))}"


def title(rng: random.Random) -> str:
    a, n, m = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_NOUNS)
    return rng.choice((f"The {a} {n}", f"{a} {n}", f"{n} and {m}", f"The {n} of {m}", f"{a} {n}s"))


# Each domain: its subject key, then every other key with (a value sampler, verb phrases that state it).
# A description is "<subject> <vp>, <vp> and <vp>." in a random order, sometimes split in two sentences.
DOMAINS = {
    "film": ("title", {
        "genre": (lambda r: r.choice(("western", "comedy", "thriller", "musical", "war drama", "horror film")),
                  ("is a {}", "is a {} from the studio era")),
        "year": (lambda r: str(r.randint(1920, 2023)), ("came out in {}", "was released in {}", "dates from {}")),
        "director": (person_name, ("was directed by {}", "is a film by {}", "was made by {}")),
        "country": (lambda r: _name(r, 3), ("was shot in {}", "comes from {}", "was produced in {}")),
        "runtime": (lambda r: f"{r.randint(75, 190)} minutes", ("runs {}", "is {} long", "lasts {}")),
    }),
    "book": ("title", {
        "author": (person_name, ("was written by {}", "is a book by {}", "is by {}")),
        "genre": (lambda r: r.choice(("mystery", "romance", "science fiction", "biography", "poetry")),
                  ("is a {} book", "belongs to {}")),
        "year": (lambda r: str(r.randint(1850, 2023)), ("was published in {}", "appeared in {}")),
        "pages": (lambda r: str(r.randint(90, 900)), ("has {} pages", "is {} pages long")),
        "publisher": (lambda r: f"{_name(r, 2)} Press", ("was published by {}", "is printed by {}")),
    }),
    "person": ("person", {
        "job": (lambda r: r.choice(("painter", "pilot", "teacher", "chemist", "drummer", "carpenter", "judge")),
                ("is a {}", "works as a {}", "earns a living as a {}")),
        "city": (lambda r: _name(r, 3), ("lives in {}", "is based in {}", "has a home in {}")),
        "born": (lambda r: str(r.randint(1900, 2005)), ("was born in {}", "was born in the year {}")),
        "employer": (lambda r: f"{_name(r, 2)} {r.choice(('Works', 'Group', 'Company'))}",
                     ("works for {}", "is employed by {}")),
    }),
    "album": ("album", {
        "artist": (person_name, ("is an album by {}", "was recorded by {}", "is a record by {}")),
        "genre": (lambda r: r.choice(("jazz", "folk", "punk", "soul", "electronic", "blues")),
                  ("is a {} album", "is full of {} songs")),
        "year": (lambda r: str(r.randint(1950, 2023)), ("came out in {}", "was released in {}")),
        "label": (lambda r: f"{_name(r, 2)} Records", ("was released on {}", "came out on {}")),
        "tracks": (lambda r: str(r.randint(6, 22)), ("has {} tracks", "holds {} songs")),
    }),
}


def sample_record(rng: random.Random) -> tuple[str, dict[str, str]]:
    """(domain, {key: value}) with the subject first and 2 or more other keys in the domain's order."""
    domain = rng.choice(sorted(DOMAINS))
    subject_key, slots = DOMAINS[domain]
    subject = person_name(rng) if subject_key == "person" else title(rng)
    keys = [k for k in slots if rng.random() < 0.7] or list(slots)[:2]
    if len(keys) < 2:
        keys = sorted(rng.sample(list(slots), 2), key=list(slots).index)
    return domain, {subject_key: subject, **{k: slots[k][0](rng) for k in keys}}


def describe(domain: str, record: dict[str, str], rng: random.Random) -> str:
    """A sentence (or two) stating every value of the record, in a random order with random phrasings."""
    subject_key, slots = DOMAINS[domain]
    subject, *keys = record
    keys = rng.sample(keys, len(keys))
    phrases = [rng.choice(slots[k][1]).format(record[k]) for k in keys]
    split = rng.randint(1, len(phrases) - 1) if len(phrases) > 2 and rng.random() < 0.5 else len(phrases)
    first, second = phrases[:split], phrases[split:]
    join = lambda ps: ps[0] if len(ps) == 1 else ", ".join(ps[:-1]) + " and " + ps[-1]  # noqa: E731
    text = f"{record[subject]} {join(first)}."
    if second:
        pronoun = "It" if subject_key != "person" else rng.choice(("This person", record[subject].split()[0]))
        text += f" {pronoun} {join(second)}."
    return text


def format_record(record: dict[str, str]) -> str:
    """The source side, in the E2E task's format: `key[value] | key[value] =>`."""
    return " | ".join(f"{k}[{v}]" for k, v in record.items()) + " =>"


def record_texts(n: int, seed: int = 0) -> list[str]:
    """n documents `key[value] | ... => description`, the same for the same seed."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        domain, record = sample_record(rng)
        texts.append(f"{format_record(record)} {describe(domain, record, rng)}")
    return texts


def unseen_records(n: int, seed: int = 999_999) -> list[tuple[str, str]]:
    """n (source `key[value] | ... =>`, subject) pairs, from a seed far from the training chunks' (0, 1, 2, ...):
    does a model write the subject? A made-up name, or one title of thousands: it can only get it from the source."""
    sources = [text[:text.index("=>") + 2] for text in record_texts(n, seed=seed)]
    return [(source, source[source.index("[") + 1:source.index("]")]) for source in sources]


def record_tokens(encoding, n_tokens: int, seed: int = 0):
    """Whole records, each followed by <|endoftext|>, until there are at least n_tokens: a uint16 array to mix in."""
    import numpy as np

    eot, out, total, start = encoding.eot_token, [], 0, 0
    while total < n_tokens:
        batch = record_texts(2000, seed=seed * 1_000_003 + start)  # independent chunks, the same for the same seed
        for ids in encoding.encode_ordinary_batch(batch):
            if total >= n_tokens:
                break
            out.append(np.asarray(ids + [eot], dtype=np.uint16))
            total += len(ids) + 1
        start += 1
    return np.concatenate(out)


if __name__ == "__main__":
    for text in record_texts(8, seed=1):
        print(text)

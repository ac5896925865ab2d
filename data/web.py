"""A small generated "web" of structured text: the pretraining text that teaches the course base to read and copy.

GPT-2 read millions of infoboxes, listings and tables with their descriptions, so it arrived at prefix-tuning able
to read `key: value` data and copy the values into a sentence; a prefix then only has to say *which* job to do.
Our base reads movie reviews, where nothing is ever copied. This module writes the missing kind of text:

    name[Harbour Lantern] | type[museum] | area[Velmora] | year[1911] => Harbour Lantern is a museum in Velmora. It
    opened in 1911.
    name: Tovi Marsk; type: drummer; born: 1962 -- Tovi Marsk is a drummer, born in 1962.
    name[The Quiet Orchard] | author[Dana Holt] | year[1987] Q: what is the author? A: Dana Holt
    list: copper, Ilsa, meadow, Brinmore. again: copper, Ilsa, meadow, Brinmore.

What makes it teach *copying* and not *remembering* (each point was measured, see the README):
- many domains (films, books, albums, people, hotels, museums, shops, teams, parks, schools, ships, bands,
  products, festivals) that share their keys: every subject is `name`, and `type`, `area`, `near`, `price`, `year`
  recur, so "find the key, copy what follows" works everywhere, not only after one domain's keys;
- values from a space far too large to remember: real English words (thousands, taken from the reviews'
  vocabulary) and made-up syllables, in many name patterns ("The Lantern", "Copper House", "Ilsa Brinmore", ...);
- several source formats (`key[value] | ...`, `key: value; ...`, one `key = value` per line), keys in varied order,
  descriptions with varied phrasings, questions and answers over a record, and lists said twice;
- (stage 4) descriptions in the sentence shapes of prose, not only "subject, then a verb phrase per value":
  "There is a quiet lantern called X near Y.", "A hotel called X has five stars.", "Near Y, X ...", "Its roof color
  is red." (prose_description);
- (stage 5) everyday words in values, which stages 1-4 held out with the restaurant vocabulary: nationalities ("a
  French comedy", "a hotel in the Italian style"), price levels ("a cheap hostel", "with prices of £15-20"), children
  and families ("welcomes children"), ratings out of 5, and areas such as "the city centre" and "the riverside"
  (everyday_document).

Held out: the restaurant domain of lesson 7's task (data/e2e.py). No record here is about a venue that serves food,
no E2E-only key appears (eatType, food, priceRange, customer rating, familyFriendly), nor the key said in words
("customer rating", "family friendly", "kid friendly", "price range", ...), no word of the restaurant vocabulary
(restaurant, pub, coffee, food, cuisine, ...), and no E2E restaurant or landmark name. tests/test_web_data.py checks
all of it, for every stage.

    python -m data.web            # prints a few documents
"""
from __future__ import annotations

import collections
import functools
import random
import re
from pathlib import Path

from minigpt.files import atomic_write, write_text_atomic

# ----------------------------------------------------------------------------------------------
# What must never appear: the E2E task's own keys, vocabulary and names (checked by tests/test_web_data.py)

E2E_ONLY_KEYS = ("eatType", "food", "priceRange", "customer rating", "familyFriendly")
E2E_KEY_PHRASES = ("eat type", "coffee shop", "customer rating", "price range", "family friendly", "family-friendly",
                   "kid friendly", "kid-friendly", "child friendly", "child-friendly", "children friendly", "fast food")
RESTAURANT_WORDS = frozenset((
    "restaurant", "restaurants", "pub", "pubs", "coffee", "cafe", "café", "food", "foods", "cuisine", "dishes",
    "dish", "eat", "eats", "eating", "eatery", "dine", "dining", "diner", "menu", "meal", "meals", "serves",
    "serving", "chef", "kitchen", "bistro", "bar", "tavern", "inn", "curry", "rice", "noodle", "noodles", "dumpling",
    "sushi", "pizza", "pasta", "burger", "vegetarian",
))  # never in any stage's web
# Everyday words that stages 1-4 held out with the restaurant vocabulary (they are not in data/web/words.txt, so
# no name or listing is made of them); stage 5's everyday_document uses them of hotels, films, shops, ...
EVERYDAY_WORDS = frozenset((
    "family", "families", "kid", "kids", "children", "child", "friendly", "rating", "rated", "customer",
    "customers", "riverside", "centre", "center", "chinese", "english", "french", "indian", "italian", "japanese",
    "fast", "cheap", "moderate", "expensive", "price",
))  # "price" is also one of the shared keys (a hotel's price), so it appears as a key in every stage
SHARED_KEYS = ("name", "type", "area", "near", "price", "year")

# ----------------------------------------------------------------------------------------------
# Words and names

_SYLLABLES = ("ba", "bel", "cor", "da", "dor", "el", "fa", "gan", "hal", "is", "ka", "kel", "lin", "lo", "ma",
              "mir", "na", "nor", "o", "pa", "quin", "ra", "rin", "sa", "sel", "ta", "tor", "u", "vi", "ven",
              "wil", "ya", "zan", "zel", "bri", "cas", "dru", "fen", "gor", "jo", "mel", "tam", "rud", "sif")
_STOPWORDS = frozenset("""the and a of to is in it i this that was as with for but movie film on not you are his
have he be one all at by an they who so from like her or just about out if has what some there can more when very
up no time she even my would which only story really see their had we were me than much could well get been other
do will most also into people great because how bad any first make made then them its after think way films movies
acting characters character watch never too over plot little did life man know where best many does ever show love
your off here these end two why still scene scenes say while
porn porno sex sexy sexual nude nudity naked rape raped gore gory kill killed killing killer kills murder suicide
drug drugs nazi nazis gay breasts""".split())


WORDS_FILE = Path(__file__).resolve().parent / "web" / "words.txt"


def derive_real_words() -> tuple[str, ...]:
    """About 6,000 English words: the commonest of the IMDB reviews' vocabulary (function words, a few crude words, the
    restaurant vocabulary and the everyday words left out), in a fixed order. `python -m data.web --write-words` stores
    them in data/web/words.txt, so the web needs no package at run time; a test checks the file against this function."""
    from .reviews import imdb_reviews  # the reviews are the course's own text: no new download

    counts = collections.Counter()
    for text, _ in imdb_reviews("train"):
        counts.update(re.findall(r"[a-z]{3,11}", text.lower()))
    words = sorted((w for w, c in counts.items() if c >= 8 and w not in _STOPWORDS
                    and w not in RESTAURANT_WORDS | EVERYDAY_WORDS),
                   key=lambda w: (-counts[w], w))
    return tuple(words[:6000])


@functools.lru_cache(maxsize=1)
def real_words() -> tuple[str, ...]:
    """The material for names too many to remember (data/web/words.txt, one word a line)."""
    return tuple(WORDS_FILE.read_text().split())


def _forbidden_names() -> frozenset[str]:
    from .e2e import NAMES, NEAR_NAMES
    return frozenset(n.lower() for n in NAMES + NEAR_NAMES)


def made_up(rng: random.Random, parts: int | None = None) -> str:
    """A made-up word of 2-3 syllables, capitalized: 'Velmora'."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts or rng.choice((2, 2, 3)))).capitalize()


def word(rng: random.Random) -> str:
    """A real word, capitalized: 'Lantern'."""
    return rng.choice(real_words()).capitalize()


_NAME_PATTERNS = (
    lambda r: f"The {word(r)}", lambda r: f"{word(r)} {word(r)}", lambda r: word(r), lambda r: made_up(r),
    lambda r: f"The {word(r)} {word(r)}", lambda r: f"{word(r)} House", lambda r: f"{word(r)} of {word(r)}",
    lambda r: f"{made_up(r)} {word(r)}", lambda r: f"{word(r)} {made_up(r)}", lambda r: f"{word(r)}s",
    lambda r: f"The {made_up(r)}", lambda r: f"{word(r)} and {word(r)}", lambda r: f"{made_up(r)}{r.choice('sy')}",
    lambda r: f"{word(r)} {r.choice(('Hall', 'Arms', 'Court', 'Place', 'Yard', 'Works', 'Rest', 'Tree'))}",
)


def thing_name(rng: random.Random) -> str:
    """The name of a place, a work or a thing, from millions of possibilities (never one of the E2E names)."""
    forbidden = _forbidden_names()
    while True:
        name = rng.choice(_NAME_PATTERNS)(rng)
        if name.lower() not in forbidden:
            return name


def person_name(rng: random.Random) -> str:
    first = made_up(rng) if rng.random() < 0.6 else word(rng)
    last = made_up(rng, rng.choice((2, 3))) if rng.random() < 0.6 else word(rng)
    return f"{first} {last}"


def place(rng: random.Random) -> str:
    """A town or a district."""
    return rng.choice((made_up(rng), made_up(rng, 3), f"{word(rng)} {rng.choice(('Town', 'Hill', 'Bay', 'Vale'))}",
                       f"the {word(rng).lower()} quarter", f"north {made_up(rng)}", f"the old town of {made_up(rng)}"))


def _year(lo, hi):
    return lambda r: str(r.randint(lo, hi))


def _pick(*options):
    return lambda r: r.choice(options)


def _dollars(lo, hi, unit=""):
    return lambda r: f"${r.randint(lo, hi)}{unit}"


# ----------------------------------------------------------------------------------------------
# Domains: every subject is `name`; then {key: (value sampler, phrases that state it)}.
# Shared keys (type, area, near, price, year, ...) say the same thing in every domain, in the same words.

_TYPE = ("is a {}", "is a {}", "is known as a {}")
_AREA = ("is in {}", "is located in {}", "can be found in {}", "lies in {}")
_NEAR = ("is near {}", "is close to {}", "is not far from {}", "stands next to {}")
_PRICE = ("costs {}", "has a price of {}", "charges {}")

DOMAINS = {
    "film": {
        "type": (_pick("western", "comedy", "thriller", "musical", "war drama", "horror film", "cartoon"), _TYPE),
        "year": (_year(1920, 2023), ("came out in {}", "was released in {}", "dates from {}")),
        "director": (person_name, ("was directed by {}", "is a film by {}", "was made by {}")),
        "country": (place, ("was shot in {}", "comes from {}", "was produced in {}")),
        "runtime": (lambda r: f"{r.randint(75, 190)} minutes", ("runs {}", "is {} long", "lasts {}")),
    },
    "book": {
        "author": (person_name, ("was written by {}", "is a book by {}", "is by {}")),
        "type": (_pick("mystery", "romance", "novel", "biography", "poetry book", "travel guide"), _TYPE),
        "year": (_year(1850, 2023), ("was published in {}", "appeared in {}")),
        "pages": (_year(90, 900), ("has {} pages", "is {} pages long")),
        "publisher": (lambda r: f"{thing_name(r)} Press", ("was published by {}", "is printed by {}")),
    },
    "album": {
        "artist": (person_name, ("is an album by {}", "was recorded by {}", "is a record by {}")),
        "type": (_pick("jazz album", "folk album", "punk record", "soul album", "live album"), _TYPE),
        "year": (_year(1950, 2023), ("came out in {}", "was released in {}")),
        "label": (lambda r: f"{thing_name(r)} Records", ("was released on {}", "came out on {}")),
        "tracks": (_year(6, 22), ("has {} tracks", "holds {} songs")),
    },
    "person": {
        "type": (_pick("painter", "pilot", "teacher", "chemist", "drummer", "carpenter", "judge", "poet"),
                 ("is a {}", "works as a {}", "earns a living as a {}")),
        "area": (place, ("lives in {}", "is based in {}", "has a home in {}")),
        "born": (_year(1900, 2005), ("was born in {}", "was born in the year {}")),
        "employer": (lambda r: f"{thing_name(r)} {r.choice(('Group', 'Company', 'Ltd'))}",
                     ("works for {}", "is employed by {}")),
    },
    "hotel": {
        "type": (_pick("hotel", "guest house", "hostel", "lodge"), _TYPE),
        "area": (place, _AREA), "near": (thing_name, _NEAR),
        "price": (_dollars(40, 400, " a night"), _PRICE),
        "stars": (_pick("one", "two", "three", "four", "five"), ("has {} stars", "is a {} star place")),
    },
    "museum": {
        "type": (_pick("museum", "gallery", "library", "archive"), _TYPE),
        "area": (place, _AREA), "near": (thing_name, _NEAR),
        "year": (_year(1780, 2020), ("opened in {}", "was founded in {}")),
        "collection": (lambda r: f"{word(r).lower()} {r.choice(('paintings', 'maps', 'clocks', 'letters', 'coins'))}",
                       ("shows {}", "holds a collection of {}", "is famous for its {}")),
        "price": (_dollars(0, 30), ("costs {} to enter", "charges {} a ticket")),
    },
    "shop": {
        "type": (_pick("bookshop", "toy shop", "flower shop", "shoe shop", "music store", "hardware store"), _TYPE),
        "area": (place, _AREA), "near": (thing_name, _NEAR),
        "owner": (person_name, ("is run by {}", "belongs to {}", "is owned by {}")),
        "year": (_year(1900, 2023), ("opened in {}", "has been open since {}")),
    },
    "team": {
        "type": (_pick("football club", "hockey team", "rugby side", "chess club", "rowing crew"), _TYPE),
        "area": (place, ("plays in {}", "is based in {}", "comes from {}")),
        "coach": (person_name, ("is coached by {}", "is trained by {}")),
        "ground": (thing_name, ("plays at {}", "has its home at {}")),
        "year": (_year(1860, 2020), ("was founded in {}", "dates from {}")),
    },
    "park": {
        "type": (_pick("park", "garden", "nature reserve", "forest"), _TYPE),
        "area": (place, _AREA), "near": (thing_name, _NEAR),
        "size": (lambda r: f"{r.randint(2, 900)} acres", ("covers {}", "is {} in size")),
        "year": (_year(1700, 2020), ("opened in {}", "was laid out in {}")),
    },
    "school": {
        "type": (_pick("school", "college", "academy", "music school"), _TYPE),
        "area": (place, _AREA), "head": (person_name, ("is led by {}", "has {} as its head")),
        "pupils": (_year(50, 3000), ("has {} pupils", "teaches {} students")),
        "year": (_year(1800, 2020), ("was founded in {}", "opened in {}")),
    },
    "ship": {
        "type": (_pick("ferry", "sailing ship", "steamer", "tug", "fishing boat"), _TYPE),
        "year": (_year(1850, 2020), ("was built in {}", "was launched in {}")),
        "captain": (person_name, ("is captained by {}", "sails under {}")),
        "port": (place, ("sails from {}", "has its home port in {}")),
    },
    "band": {
        "type": (_pick("rock band", "brass band", "string quartet", "choir", "duo"), _TYPE),
        "area": (place, ("comes from {}", "formed in {}", "is based in {}")),
        "singer": (person_name, ("is fronted by {}", "has {} as its singer")),
        "year": (_year(1950, 2023), ("started in {}", "formed in {}")),
    },
    "product": {
        "type": (_pick("lamp", "bicycle", "camera", "kettle", "guitar", "watch", "radio"), _TYPE),
        "maker": (lambda r: f"{thing_name(r)} {r.choice(('Works', 'Company', 'Labs'))}",
                  ("is made by {}", "comes from {}", "is built by {}")),
        "price": (_dollars(5, 900), _PRICE),
        "year": (_year(1950, 2023), ("came out in {}", "was launched in {}")),
        "color": (_pick("red", "black", "silver", "green", "blue", "white"), ("comes in {}", "is {}")),
    },
    "festival": {
        "type": (_pick("music festival", "film festival", "book fair", "street fair"), _TYPE),
        "area": (place, ("takes place in {}", "is held in {}")), "near": (thing_name, _NEAR),
        "month": (_pick("January", "March", "May", "June", "July", "August", "October"), ("is held in {}", "runs in {}")),
        "price": (_dollars(0, 200), ("costs {} a ticket", "charges {} to get in")),
    },
}


def sample_record(rng: random.Random, domain: str | None = None) -> tuple[str, dict[str, str]]:
    """(domain, {"name": ..., key: value, ...}) with 1 to all of the domain's other keys, in the domain's order."""
    domain = domain or rng.choice(sorted(DOMAINS))
    keys = DOMAINS[domain]
    chosen = [k for k in keys if rng.random() < 0.6] or [rng.choice(list(keys))]
    subject = person_name(rng) if domain == "person" else thing_name(rng)
    return domain, {"name": subject, **{k: keys[k][0](rng) for k in chosen}}


def _join(ps: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return ps[0] if len(ps) == 1 else ", ".join(ps[:-1]) + " and " + ps[-1]


def describe(domain: str, record: dict[str, str], rng: random.Random, said: dict[str, list[str]] | None = None) -> str:
    """One or two sentences stating every value of the record, in a random order with random phrasings. `said`:
    {key: verb phrases that state its value} for keys that are not the domain's own (everyday_document's)."""
    keys = DOMAINS[domain]
    others = rng.sample([k for k in record if k != "name"], len(record) - 1)
    phrases = [rng.choice(said[k]) if said and k in said else rng.choice(keys[k][1]).format(record[k]) for k in others]
    split = rng.randint(1, len(phrases) - 1) if len(phrases) > 2 and rng.random() < 0.5 else len(phrases)
    first, second = phrases[:split], phrases[split:]
    text = f"{record['name']} {_join(first)}."
    if second:
        text += f" {'It' if domain != 'person' else 'This person'} {_join(second)}."
    return text


def format_source(record: dict[str, str], style: str, rng: random.Random) -> str:
    """The record as a table, in one of three styles; mostly `name` first (as in lesson 7's task), not always."""
    items = list(record.items())
    if rng.random() < 0.25:
        rng.shuffle(items)
    if style == "brackets":
        return " | ".join(f"{k}[{v}]" for k, v in items)
    if style == "colons":
        return "; ".join(f"{k}: {v}" for k, v in items)
    return "\n".join(f"{k} = {v}" for k, v in items)


_ARROW = {"brackets": " =>", "colons": " --", "lines": "\n=>"}


def _questions(source: str, record: dict[str, str], rng: random.Random) -> str:
    """The record's table and one to three questions about it, always in the same form: "what is the <key>?"."""
    keys = rng.sample(list(record), min(len(record), rng.randint(1, 3)))
    return source + "".join(f" Q: what is the {k}? A: {record[k]}." for k in keys)


def record_document(rng: random.Random, prose: float = 0.0) -> str:
    """A record and its description, or a record and questions about it. A `prose` share of the descriptions are
    written in the sentence shapes of prose_description (0: every one as describe writes it, the web of stages 1-3)."""
    domain, record = sample_record(rng)
    return _document(domain, record, rng, prose)


def _document(domain: str, record: dict[str, str], rng: random.Random, prose: float,
              given: dict[str, dict] | None = None) -> str:
    """The record as a table in one of three styles, then questions about it or its description (a `prose` share in
    prose shapes). given: {key: its forms} for the keys that are not the domain's own (everyday_forms)."""
    given = given or {}
    style = rng.choices(("brackets", "colons", "lines"), weights=(5, 3, 2))[0]
    source = format_source(record, style, rng)
    if rng.random() < 0.2:
        return _questions(source, record, rng)
    if prose and rng.random() < prose:
        phrases = {k: [p.format(v) for p in DOMAINS[domain][k][1]] for k, v in record.items()
                   if k != "name" and k not in given}
        text = prose_description(record, phrases, rng, person=domain == "person", given=given)
    else:
        text = describe(domain, record, rng, said={k: f["vp"] for k, f in given.items()})
    return f"{source}{_ARROW[style]} {text}"


def list_document(rng: random.Random) -> str:
    """A list said twice: the second copy can only be predicted by looking back at the first."""
    items = [rng.choice((word(rng).lower(), made_up(rng), thing_name(rng), str(rng.randint(1, 999))))
             for _ in range(rng.randint(3, 12))]
    said = ", ".join(items)
    return f"{rng.choice(('list', 'items', 'names', 'words'))}: {said}. {rng.choice(('again', 'once more', 'repeat'))}: {said}."


# ----------------------------------------------------------------------------------------------
# Listings: records whose keys come from a space too large to remember, stated in generic words. The domains above
# teach each key its own phrases ("is near ..."); a base that knows only those states the values of keys it knows
# and invents the rest. A listing's key is any word, made-up word, joined pair (`roofColor`) or two words, and
# its description names the key and states the value: the skill "say every value of a table, whatever its key".

def _key_words(key: str) -> str:
    """How a key is said in a sentence: `roofColor` -> "roof color"."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).lower()


def listing_key(rng: random.Random) -> str:
    a, b = word(rng).lower(), word(rng).lower()
    return rng.choices((a, made_up(rng).lower(), a + b.capitalize(), f"{a} {b}"), weights=(4, 2, 3, 1))[0]


def listing_value(rng: random.Random) -> str:
    n = rng.randint(1, 10)
    return rng.choice((
        word(rng).lower(), word(rng).lower(), thing_name(rng), place(rng), made_up(rng), str(rng.randint(1, 999)),
        rng.choice(("yes", "no")), rng.choice(("yes", "no")), f"{rng.randint(1, n)} out of {n}",
        f"{word(rng).lower()} {word(rng).lower()}", f"${rng.randint(1, 90)}-{rng.randint(91, 200)}",
        f"{rng.choice(('less', 'more'))} than ${rng.randint(2, 99)}", rng.choice(("low", "high", "average")),
    ))


def _listing_phrases(key: str, value: str) -> list[str]:
    """The verb phrases that name the key and state the value (yes/no: the key is or is not so)."""
    k = _key_words(key)
    if value == "yes":
        return [f"is {k}", f"is {k}", f"has {k}", f"is listed as {k}"]
    if value == "no":
        return [f"is not {k}", f"is not {k}", f"has no {k}", f"is not listed as {k}"]
    return [f"has a {k} of {value}", f"has {value} as its {k}", f"lists its {k} as {value}",
            f"has the {k} {value}", f"gives {value} for its {k}", f"is {value} in {k}"]


def listing_phrase(key: str, value: str, rng: random.Random) -> str:
    """One of _listing_phrases, at random."""
    return rng.choice(_listing_phrases(key, value))


def listing_record(rng: random.Random) -> dict[str, str]:
    keys, n = [], rng.randint(2, 7)
    while len(keys) < n:
        key = listing_key(rng)
        if key not in keys and _key_words(key) != "name":
            keys.append(key)
    return {"name": thing_name(rng), **{k: listing_value(rng) for k in keys}}


def listing_document(rng: random.Random, prose: float = 0.0) -> str:
    """A listing and a description that states each of its values, in a random order. A `prose` share of them
    have a `type` too (a word), and a description in the sentence shapes of prose_description."""
    if prose and rng.random() < prose:
        record = listing_record(rng)
        if rng.random() < 0.6:  # a listing with a type reads "There is a yellow lantern called ..."
            record = {"name": record["name"], "type": word(rng).lower(), **{k: v for k, v in record.items()
                                                                            if k not in ("name", "type")}}
        style = rng.choices(("brackets", "colons", "lines"), weights=(5, 3, 2))[0]
        phrases = {k: _listing_phrases(k, v) for k, v in record.items() if k != "name"}
        text = prose_description(record, phrases, rng, listing=True)
        return f"{format_source(record, style, rng)}{_ARROW[style]} {text}"
    record = listing_record(rng)
    style = rng.choices(("brackets", "colons", "lines"), weights=(5, 3, 2))[0]
    source = format_source(record, style, rng)
    others = rng.sample([k for k in record if k != "name"], len(record) - 1)
    phrases = [listing_phrase(k, record[k], rng) for k in others]
    split = rng.randint(1, len(phrases) - 1) if len(phrases) > 2 and rng.random() < 0.5 else len(phrases)
    text = f"{record['name']} {_join(phrases[:split])}."
    if phrases[split:]:
        text += f" It {_join(phrases[split:])}."
    return f"{source}{_ARROW[style]} {text}"


# ----------------------------------------------------------------------------------------------
# Prose: the sentence shapes of real descriptions. describe() and the listings always put the subject first and
# every value in a verb phrase ("X is near Y and has a roof color of red."). Text written by people also puts a
# value before the noun ("a five star hotel", "a quiet lantern"), in a phrase after it ("a hotel with three stars",
# "a film directed by Ilsa Brinmore"), at the front of the sentence ("Near the Lantern, ..."), or in a sentence of
# its own ("Its roof color is red."); it names the subject late ("There is a hotel called X"). A base that has read
# only the first shape can copy a table's values in that shape alone; a prefix that asks for another loses them.

def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _forms(key: str, value: str, phrases: list[str], listing: bool) -> dict[str, list[str]]:
    """The ways to state one value: "vp" verb phrases (given), "pp" phrases after a noun ("near X", "directed by X",
    "with a roof color of red"), "pre" words before a noun ("Velmora", a yes-key's words), "stand" sentences."""
    k = _key_words(key)
    pp = []
    for vp in phrases:
        verb, _, rest = vp.partition(" ")
        if verb in ("is", "was") and not listing and rest != value and not rest.startswith(("a ", "an ", "known ")):
            pp.append(rest)                      # "is near X" -> "near X"; "was directed by X" -> "directed by X"
        elif verb == "has" and not (listing and value in ("yes", "no")):
            pp.append(f"with {rest}")            # "has 300 pages" -> "with 300 pages"
    pre, stand = [], []
    if listing and value == "yes":
        pre, stand = [k], [f"is {k}"]
    elif listing and value == "no":
        stand = [f"is not {k}"]
    elif listing:
        stand = [f"Its {k} is {value}."]
    elif key == "area" and re.fullmatch(r"[A-Z][a-z]+", value):
        pre = [value]                            # "a Velmora museum"
    return {"vp": list(phrases), "pp": sorted(set(pp), key=pp.index), "pre": pre, "stand": stand}


def prose_description(record: dict[str, str], phrases: dict[str, list[str]], rng: random.Random,
                      person: bool = False, listing: bool = False, given: dict[str, dict] | None = None) -> str:
    """One to three sentences that state every value of the record once, in one of six shapes chosen at random:

        X is near Y and has five stars.                     There is a five star hotel called X near Y.
        A hotel called X is near Y and has five stars.      Near Y, X has five stars.
        X, with five stars, is near Y.                      X is a hotel near Y. Its roof color is red.

    phrases: {key: the verb phrases that state its value} for every key but name; record["type"], if any, is the noun
    ("a hotel"). A listing (listing=True, with _listing_phrases) says yes/no keys as adjectives or sentences.
    given: {key: its forms, as _forms gives them} for keys whose forms are written out (everyday_forms)."""
    name, noun, it = record["name"], record.get("type"), "This person" if person else "It"
    shape = rng.choice("ABCDEF" if noun else "ADE")
    keys = [k for k in record if k not in ("name", "type")]
    rng.shuffle(keys)
    if noun and shape in "ADE":
        keys.insert(rng.randint(0, len(keys)), "type")  # the type said as a verb phrase: "is a hotel"
    forms = {k: given[k] if given and k in given else _forms(k, record[k], phrases[k], listing) for k in keys}
    if shape == "D" and not any(forms[k]["pp"] for k in keys):
        shape = "A"
    if shape == "E" and not (len(keys) > 1 and any(forms[k]["pp"] for k in keys)):
        shape = "A"
    roles = {}
    if shape in "DE":  # one value goes in front ("Near Y, X ...") or after the name ("X, with five stars, ...")
        k = rng.choice([k for k in keys if forms[k]["pp"]])
        roles[k] = "front" if shape == "D" else "pp"
    for k in keys:
        if k in roles:
            continue
        f, u = forms[k], rng.random()
        if shape in "BCF" and f["pre"] and sum(r == "pre" for r in roles.values()) < 2 and u < 0.5:
            roles[k] = "pre"
        elif shape in "BCF" and f["pp"] and u < (0.5 if shape in "BF" else 0.3):
            roles[k] = "pp"
        elif f["stand"] and u > 0.8:
            roles[k] = "stand"
        else:
            roles[k] = "vp"
    if shape == "A" and "vp" not in roles.values():  # the subject is named in a verb phrase's sentence: keep one
        roles[keys[0]] = "vp"
    if shape == "C" and "vp" not in roles.values():
        shape = "B"
    if shape == "E" and "vp" not in roles.values():
        shape = "A"
        roles = {k: "vp" if r == "pp" else r for k, r in roles.items()}
    form = {"front": "pp"}  # a phrase in front is a phrase after a noun, capitalized
    said = {role: [rng.choice(forms[k][form.get(role, role)]) for k in keys if roles[k] == role]
            for role in ("pre", "pp", "vp", "stand", "front")}
    vps, pps = said["vp"], " ".join(said["pp"])
    called = rng.choice(("called", "named", "known as"))
    noun_phrase = " ".join(said["pre"] + [noun]) if noun else ""
    a_noun = f"{_article(noun_phrase)} {noun_phrase}" if noun else ""
    if shape == "A":
        split = rng.randint(1, len(vps) - 1) if len(vps) > 2 and rng.random() < 0.5 else len(vps)
        text = f"{name} {_join(vps[:split])}." if vps else ""
        vps = vps[split:]
    elif shape == "B":
        text = f"There is {a_noun} {called} {name}" + (f" {pps}" if pps else "")
        if vps and rng.random() < 0.5:
            text, vps = f"{text} that {_join(vps)}", []
        text += "."
    elif shape == "C":
        text = f"{a_noun.capitalize()} {called} {name}" + (f" {pps}" if pps else "") + f" {_join(vps)}."
        vps = []
    elif shape == "D":
        front = said["front"][0]
        text = f"{front[0].upper()}{front[1:]}, {name} {_join(vps)}." if vps else f"{front[0].upper()}{front[1:]}, " \
            f"there is {name}."
        vps = []
    elif shape == "E":
        text, vps = f"{name}, {pps}, {_join(vps)}.", []
    else:  # F
        text = f"{name} is {a_noun}" + (f" {_join(said['pp'])}" if said["pp"] else "")
        if vps and rng.random() < 0.4:
            text, vps = f"{text} that {_join(vps)}", []
        text += "."
    if vps:
        text += f" {it} {_join(vps)}."
    for stand in said["stand"]:  # a listing's sentence of its own, or "It is ..." for a yes/no key
        text += f" {stand}" if stand.endswith(".") else f" {it} {stand}."
    return text.strip()


# ----------------------------------------------------------------------------------------------
# Everyday words (stage 5). Stages 1-4 kept every word of the task's values out of the web, general ones too:
# "French", "cheap", "children", "riverside", "rated". A base that never read them in a description has no way to
# say them, and a prefix, which only reweighs what the base does, left those values out (lesson 7's by-key table).
# GPT-2 read them of films, hotels and shops; so does stage 5, never of a place that serves food, never as the
# task's keys or those keys said in words (E2E_KEY_PHRASES).

NATIONALITIES = ("English", "French", "Italian", "Japanese", "Chinese", "Indian", "Spanish", "German", "Greek",
                 "Turkish", "Thai", "Mexican", "Korean", "Polish", "Irish", "Scottish", "Welsh", "Dutch", "Swedish",
                 "Russian", "Brazilian", "Egyptian", "Persian", "Danish")
EVERYDAY_AREAS = ("city centre", "riverside", "town centre", "waterfront", "harbour", "old town", "market square",
                  "seafront", "university quarter", "station quarter", "north end", "hills", "suburbs", "docks")
_FRIENDLY = ("pet", "dog", "bike", "wheelchair", "student", "budget", "cyclist", "walker", "beach", "eco")

# {key: (the domains that have it, value sampler)}; everyday_forms says each value
EVERYDAY_KEYS = {
    "origin": (("film", "book", "album", "festival", "school", "band", "product"), _pick(*NATIONALITIES)),
    "style": (("hotel", "shop", "museum", "product", "park", "team"), _pick(*NATIONALITIES)),
    "price": (("hotel", "shop", "museum", "festival", "product", "park"), lambda r: r.choice((
        "cheap", "moderate", "expensive", "high", "low", f"£{r.randint(5, 40)}-{r.randint(41, 90)}",
        f"less than £{r.randint(5, 60)}", f"more than £{r.randint(10, 90)}"))),
    "rating": (("hotel", "shop", "museum", "film", "book", "album", "park", "festival", "product"), lambda r: r.choice((
        f"{r.randint(1, 5)} out of 5", f"{r.randint(1, 5)} out of 5", "low", "average", "high"))),
    "area": (("hotel", "shop", "museum", "park", "festival", "school", "person", "team", "band"), _pick(*EVERYDAY_AREAS)),
    "children": (("hotel", "museum", "park", "festival", "shop"), _pick("yes", "no")),
    "friendly": (("hotel", "park", "museum", "shop", "festival"), _pick("yes", "no")),  # key: "petFriendly", ...
}


def everyday_forms(key: str, value: str) -> dict[str, list[str]]:
    """The ways to state an everyday value, as _forms gives them: "vp" verb phrases, "pp" phrases after a noun,
    "pre" words before a noun, "stand" sentences. key is the record's key ("petFriendly" for a friendly key)."""
    vp, pp, pre, stand = [], [], [], []
    if key == "origin":
        vp, pp, pre = [f"is {value}", f"is of {value} origin"], [f"of {value} origin"], [value]
    elif key == "style":
        vp, pp, pre = [f"is {value} in style", f"has a {value} style"], [f"in the {value} style"], [value]
    elif key == "price" and value in ("cheap", "low"):
        vp, pp, pre = ["is cheap", "has low prices", "costs little"], ["with low prices"], ["cheap", "low-priced"]
    elif key == "price" and value == "moderate":
        vp, pp, pre = ["has moderate prices", "is moderately priced"], ["with moderate prices"], ["moderately priced"]
    elif key == "price" and value in ("expensive", "high"):
        vp, pp, pre = ["is expensive", "has high prices"], ["with high prices"], ["expensive", "high-priced"]
    elif key == "price":
        vp, pp = [f"costs {value}", f"charges {value}", f"has prices of {value}"], [f"with prices of {value}"]
    elif key == "rating" and "out of" in value:
        vp = [f"is rated {value}", f"has a rating of {value}", f"is rated {value} by its visitors"]
        pp, stand = [f"rated {value}", f"with a rating of {value}"], [f"Customers rate it {value}."]
    elif key == "rating":
        vp, pp = [f"has a{'n' if value == 'average' else ''} {value} rating", f"gets {value} ratings"], \
            [f"with a{'n' if value == 'average' else ''} {value} rating", f"with {value} ratings"]
        stand = [f"Its rating is {value}."]
    elif key == "area":
        vp = [f"is in the {value}", f"is located in the {value}", f"can be found in the {value}",
              f"is in the {value} area"]
        pp, pre = [f"in the {value}", f"in the {value} area"], [value]
    elif key == "children" and value == "yes":
        vp = ["welcomes children", "is good for families", "is open to families", "is a place for kids"]
        pp, pre = ["for families", "welcoming children"], ["family"]
    elif key == "children":
        vp = ["does not welcome children", "is not for families", "is for adults only", "is not a place for kids"]
        pp, pre = ["for adults only"], ["adults-only"]
    else:  # petFriendly, bikeFriendly, ...: "is pet friendly"
        words = _key_words(key)
        vp, pre = ([f"is {words}"], [words]) if value == "yes" else ([f"is not {words}"], [])
    return {"vp": vp, "pp": pp, "pre": pre, "stand": stand}


def everyday_record(rng: random.Random) -> tuple[str, dict[str, str], list[str]]:
    """(domain, record, its everyday keys): a record of one of the domains with one to three everyday keys (an
    everyday area or price in place of the domain's own)."""
    extra = rng.sample(list(EVERYDAY_KEYS), rng.randint(1, 3))
    domain = rng.choice(sorted({d for k in extra for d in EVERYDAY_KEYS[k][0]}))
    domain, record = sample_record(rng, domain)
    added = []
    for key in extra:
        domains, sample = EVERYDAY_KEYS[key]
        if domain in domains:
            name = f"{rng.choice(_FRIENDLY)}Friendly" if key == "friendly" else key
            record.pop(name, None)
            record[name] = sample(rng)
            added.append(name)
    return domain, record, added


def everyday_document(rng: random.Random, prose: float = 0.0) -> str:
    """An everyday record and its description, or questions about it, in the forms of record_document."""
    domain, record, added = everyday_record(rng)
    return _document(domain, record, rng, prose, given={k: everyday_forms(k, record[k]) for k in added})


def web_texts(n: int, seed: int = 0, lists: float = 0.15, listings: float = 0.0, prose: float = 0.0,
              everyday: float = 0.0) -> list[str]:
    """n documents of the web, the same for the same seed: a `lists` share of them lists said twice, a `listings`
    share listings with keys of any kind, the rest records of the domains, an `everyday` share of those with
    everyday words (everyday_document); a `prose` share of the descriptions in the sentence shapes of
    prose_description (prose=0 gives the web of stages 1-3 exactly, everyday=0 that of stages 1-4)."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        u = rng.random()  # one draw per document whatever the shares: listings=0 gives the web the first base read
        if u < lists:
            docs.append(list_document(rng))
        elif u < lists + listings:
            docs.append(listing_document(rng, prose))
        elif everyday and rng.random() < everyday:  # no draw when everyday=0: the web of stages 1-4 stays as it was
            docs.append(everyday_document(rng, prose))
        else:
            docs.append(record_document(rng, prose))
    return docs


def web_tokens(encoding, n_tokens: int, seed: int = 0, listings: float = 0.0, prose: float = 0.0,
               everyday: float = 0.0):
    """Whole documents, each followed by <|endoftext|>, until there are at least n_tokens: a uint16 array."""
    import numpy as np

    eot, out, total, chunk = encoding.eot_token, [], 0, 0
    while total < n_tokens:
        batch = web_texts(4000, seed=seed * 1_000_003 + chunk, listings=listings, prose=prose,  # independent chunks:
                          everyday=everyday)                                                # same seed, same text
        for ids in encoding.encode_ordinary_batch(batch):
            if total >= n_tokens:
                break
            out.append(np.asarray(ids + [eot], dtype=np.uint16))
            total += len(ids) + 1
        chunk += 1
    return np.concatenate(out)


def mix_into(encoding, tokens, share: float, seed: int = 0, listings: float = 0.0, prose: float = 0.0,
             everyday: float = 0.0):
    """-> (tokens followed by as many web tokens as make `share` of the result, the web tokens): the pretraining
    stream of lesson 4 and of the course base. 0 <= share < 1; share 0 gives the tokens alone."""
    import numpy as np

    if not 0 <= share < 1:
        raise ValueError(f"the web's share of the training text must be 0 <= share < 1; got {share}")
    tokens = np.asarray(tokens)
    web = web_tokens(encoding, round(len(tokens) * share / (1 - share)), seed=seed,
                     listings=listings, prose=prose, everyday=everyday) if share else tokens[:0]
    return np.concatenate([tokens, web]), web


def mixed_stream(encoding, tokens, share: float, cache_dir, seed: int = 0, listings: float = 0.0, prose: float = 0.0,
                 everyday: float = 0.0, verbose=True):
    """The pretraining stream, built once as one file on disk: `tokens` (a split's reviews) followed by the web tokens
    that make `share` of it (mix_into). -> (read-only np.memmap of uint16, its composition dict).

    <cache_dir>/mixed-<key>.bin holds the tokens and mixed-<key>.json what is in them (review and web tokens and
    documents, the share, listings, seed, tokenizer). The JSON is written last, so a file without one is unfinished;
    a second call with the same settings and the same review tokens reuses the file.
    """
    import hashlib
    import json
    import zlib

    import numpy as np

    tokens = np.asarray(tokens, dtype=np.uint16)
    settings = {"format": 1, "tokenizer": encoding.name, "reviews_tokens": int(len(tokens)),
                "reviews_crc32": zlib.crc32(tokens.tobytes()), "web_share": share, "listings": listings, "seed": seed}
    for name, share_of in (("prose", prose), ("everyday", everyday)):
        if share_of:  # only when asked: the streams of the stages without them keep their names
            settings[name] = share_of
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    cache_dir = Path(cache_dir)
    path, meta_path = cache_dir / f"mixed-{key}.bin", cache_dir / f"mixed-{key}.json"
    if meta_path.is_file() and path.is_file():
        composition = json.loads(meta_path.read_text())
        if composition.get("settings") == settings and path.stat().st_size == 2 * composition["tokens"]:
            if verbose:
                print(f"mixed stream: reusing {path}")
            return np.memmap(path, dtype=np.uint16, mode="r"), composition
    mixed, web = mix_into(encoding, tokens, share, seed=seed, listings=listings, prose=prose, everyday=everyday)
    with atomic_write(path, "wb") as f:
        mixed.astype(np.uint16).tofile(f)
    composition = {"settings": settings, "tokens": int(len(mixed)), "web_tokens": int(len(web)),
                   "web_documents": int((web == encoding.eot_token).sum()), "web_share_measured": len(web) / len(mixed)}
    write_text_atomic(meta_path, json.dumps(composition, indent=1))  # last: marks the file complete
    if verbose:
        print(f"mixed stream: wrote {path} ({len(mixed):,} tokens, {len(web):,} of them web)")
    return np.memmap(path, dtype=np.uint16, mode="r"), composition


def unseen_web_records(n: int, seed: int = 999_999) -> list[tuple[str, str]]:
    """n (source `name[...] | ... =>`, name) pairs from a seed the training chunks never use."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        _, record = sample_record(rng)
        pairs.append((" | ".join(f"{k}[{v}]" for k, v in record.items()) + " =>", record["name"]))
    return pairs


if __name__ == "__main__":
    import sys

    if "--write-words" in sys.argv:
        WORDS_FILE.parent.mkdir(exist_ok=True)
        write_text_atomic(WORDS_FILE, "\n".join(derive_real_words()) + "\n")
        print(f"wrote {WORDS_FILE}")
    else:
        for text in web_texts(12, seed=1):
            print(text, end="\n\n")

"""E2E-style table-to-text data (Novikova et al. 2017), generated with a seeded generator.

The real E2E NLG data cannot be downloaded here, so we synthesise data with the same shape:
a restaurant meaning representation (MR) of 3-8 attributes is linearised into a source string,
and the target is a natural-language description that mentions every attribute value.

    source: name[The Eagle] | eatType[pub] | food[French] | area[riverside] =>
    target: The Eagle is a French pub by the river.

Realisations come from a small compositional grammar (sentence plans x attribute orderings x
phrase synonyms), so the model has to learn a mapping, not memorise one template.

Run `python -m data.e2e [--seed 0] [--out data/e2e]` to (re)write train/val/test.jsonl.
Rows: {"mr": {...}, "source": "...=>", "target": "...", "references": [...]} (train rows have no "references").
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from data.web import E2E_KEY_PHRASES, RESTAURANT_WORDS
from minigpt.files import atomic_write

DATA_DIR = Path(__file__).resolve().parent / "e2e"
SPLITS = ("train", "val", "test")

# Canonical attribute order of the E2E MRs; the source string always follows it.
ATTRIBUTE_ORDER = ("name", "eatType", "food", "priceRange", "customer rating", "area",
              "familyFriendly", "near")
OPTIONAL_ATTRIBUTES = ATTRIBUTE_ORDER[1:]

VALUES = {
    "eatType": ("coffee shop", "pub", "restaurant"),
    "food": ("Chinese", "English", "Fast food", "French", "Indian", "Italian", "Japanese"),
    "priceRange": ("cheap", "moderate", "high", "less than £20", "£20-25", "more than £30"),
    "customer rating": ("low", "average", "high", "1 out of 5", "3 out of 5", "5 out of 5"),
    "area": ("city centre", "riverside"),
    "familyFriendly": ("yes", "no"),
}

# Venue names (E2E-like). No name contains a word that is also a attribute value ("river", "Indian", ...),
# otherwise the attribute matcher could credit a value that the text never states.
NAMES = (
    "The Eagle", "Blue Spice", "Fitzbillies", "The Phoenix", "Zizzi", "The Wrestlers", "The Mill",
    "Cotto", "The Vaults", "Strada", "Loch Fyne", "The Cricketers", "Giraffe", "The Waterman",
    "Green Man", "The Punter", "Aromi", "Alimentum", "Bibimbap House", "Browns Cambridge",
    "Clowns", "Cocum", "The Dumpling Tree", "The Golden Palace", "Midsummer House",
    "The Olive Grove", "The Plough", "Taste of Cambridge", "Wildwood", "The Twenty Two",
    "The Cambridge Blue", "The Golden Curry", "The Rice Boat", "The Mermaid", "Travellers Rest",
    "The Grapes",
)
# Landmarks for `near`; disjoint from NAMES so `name` and `near` can never be confused.
NEAR_NAMES = (
    "Burger King", "Café Rouge", "The Portland Arms", "Crowne Plaza Hotel", "The Bakers",
    "Café Sicilia", "Clare Hall", "Rainbow Vegetarian Café", "All Bar One", "Avalon", "Ranch",
    "The Sorrento", "The Six Bells", "Yippee Noodle Bar", "Café Adriatic", "Café Brazil",
    "The Bridge", "Holiday Inn",
)

# Restaurant names that no split uses: for checking whether a model copies a name it has never seen
# (lesson 7's copy check, data/course_base.py). Same rule as NAMES: no word that is also a attribute value.
UNSEEN_NAMES = (
    "The Copper Kettle", "Saffron Lane", "The Red Lion", "Bellwether", "Marlowe's", "The Old Granary",
    "Quayside Kitchen", "The Fox and Hound", "Nettlebed", "The Lamplighter", "Orchard Row", "Pemberton's",
    "The Silver Birch", "Tamarind", "The Blue Door", "Hollybush", "The Salt House", "Juniper",
    "The Brass Monkey", "Kingfisher", "The Stag", "Lavender Hill", "The Anchor", "Wheatsheaf",
    "The Crooked Spire", "Mulberry", "The Tin Drum", "Foxglove", "The Old Vicarage", "Rosemary Lane",
)

# Number of attributes per MR (name included): roughly the E2E distribution, mean ~5.3.
N_ATTRIBUTES = (3, 4, 5, 6, 7, 8)
N_ATTRIBUTES_WEIGHTS = (8, 18, 25, 26, 17, 6)

# ---------------------------------------------------------------------------------------------
# Phrase tables. Every phrase for a value contains one of its surface forms (attribute_surface_forms);
# tests/test_e2e_data.py checks that every generated text has attribute error rate 0.

_NUM_WORD = {"1": "one", "3": "three", "5": "five"}


def _food_nps(food: str) -> list[str]:
    return ["fast food"] if food == "Fast food" else [f"{food} food", f"{food} cuisine", f"{food} dishes"]


def _food_adj(food: str) -> str:
    return "fast food" if food == "Fast food" else food


def _pre(attribute: str, value: str) -> list[str]:
    """Prenominal modifiers ("a cheap French pub"); [] if the value has none."""
    if attribute == "food":
        return [_food_adj(value)]
    if attribute == "area":
        return [value]  # "a riverside pub", "a city centre pub"
    if attribute == "priceRange":
        return {"cheap": ["cheap", "low-priced", "inexpensive"],
                "moderate": ["moderately priced", "mid-priced"],
                "high": ["expensive", "high-priced", "pricey"]}.get(value, [])
    if attribute == "customer rating":
        if value[0].isdigit():
            return [f"{value[0]}-star", f"{_NUM_WORD[value[0]]}-star"]
        return {"low": ["low-rated", "poorly rated"], "average": ["average-rated"],
                "high": ["highly rated", "top-rated"]}[value]
    if attribute == "familyFriendly":
        return ["family-friendly", "kid-friendly", "child-friendly"] if value == "yes" else ["adults-only"]
    return []


def _post(attribute: str, value: str) -> list[str]:
    """Postnominal phrases without a verb ("a pub near Burger King", "... with high prices")."""
    if attribute == "food":
        return [f"{verb} {np}" for verb in ("serving", "offering") for np in _food_nps(value)]
    if attribute == "priceRange":
        return {"cheap": ["with low prices", "with cheap prices", "with a cheap price range"],
                "moderate": ["with moderate prices", "with a moderate price range"],
                "high": ["with high prices", "with a high price range"],
                "less than £20": ["with prices less than £20", "with a price range of less than £20",
                                  "with prices under £20"],
                "£20-25": ["with prices of £20-25", "with a price range of £20-25",
                           "with prices between £20 and £25"],
                "more than £30": ["with prices of more than £30", "with a price range of more than £30",
                                  "with prices over £30"]}[value]
    if attribute == "customer rating":
        if value[0].isdigit():
            return [f"with a customer rating of {value}", f"rated {value} by customers",
                    f"with a {value} rating"]
        return {"low": ["with a low customer rating", "with low ratings", "rated low by customers"],
                "average": ["with an average customer rating", "with average ratings"],
                "high": ["with a high customer rating", "with high ratings", "rated highly by customers"],
                }[value]
    if attribute == "area":
        if value == "city centre":
            return ["in the city centre", "located in the city centre", "in the centre of the city",
                    "in the centre of town"]
        return ["in the riverside area", "by the river", "on the riverside", "located by the riverside"]
    if attribute == "familyFriendly":
        if value == "yes":
            return ["suitable for families", "with a family-friendly atmosphere", "welcoming children"]
        return ["for adults only", "not suitable for families"]
    if attribute == "near":
        return [f"near {value}", f"close to {value}", f"not far from {value}", f"located near {value}"]
    raise KeyError(attribute)


def _vp(attribute: str, value: str) -> list[str]:
    """Third-person verb phrases ("serves French food"), usable after any singular subject."""
    if attribute == "food":
        return [f"{verb} {np}" for verb in ("serves", "offers", "provides") for np in _food_nps(value)]
    if attribute == "priceRange":
        return {"cheap": ["is cheap", "has low prices", "is inexpensive", "has a cheap price range"],
                "moderate": ["is moderately priced", "has moderate prices", "has a moderate price range"],
                "high": ["is expensive", "has high prices", "has a high price range"],
                "less than £20": ["has prices less than £20", "charges less than £20",
                                  "has a price range of less than £20", "costs less than £20"],
                "£20-25": ["has a price range of £20-25", "charges £20-25", "costs between £20 and £25",
                           "has prices of £20-25"],
                "more than £30": ["charges more than £30", "has prices of more than £30",
                                  "has a price range of more than £30", "costs over £30"]}[value]
    if attribute == "customer rating":
        if value[0].isdigit():
            return [f"has a customer rating of {value}", f"is rated {value} by customers",
                    f"has a {value} rating", f"has a {value[0]}-star rating"]
        return {"low": ["has a low customer rating", "is rated low by customers", "has received low ratings"],
                "average": ["has an average customer rating", "is rated average by customers",
                            "gets average reviews"],
                "high": ["has a high customer rating", "is highly rated by customers", "gets high ratings"],
                }[value]
    if attribute == "area":
        if value == "city centre":
            return ["is located in the city centre", "is in the centre of the city",
                    "can be found in the city centre", "is in the centre of town"]
        return ["is located in the riverside area", "is by the river", "is on the riverside",
                "can be found by the river"]
    if attribute == "familyFriendly":
        if value == "yes":
            return ["is family-friendly", "is kid friendly", "welcomes children", "is child friendly",
                    "is good for families"]
        return ["is not family-friendly", "is not kid friendly", "isn't family-friendly",
                "does not welcome children", "is for adults only"]
    if attribute == "near":
        return [f"is near {value}", f"is located near {value}", f"is close to {value}",
                f"can be found near {value}", f"is not far from {value}"]
    raise KeyError(attribute)


def _front(attribute: str, value: str) -> list[str]:
    """Sentence-initial adverbials ("By the river, ..."); [] if the attribute has none."""
    if attribute in ("area", "near"):
        return [p[0].upper() + p[1:] for p in _post(attribute, value)]
    if attribute in ("priceRange", "customer rating"):
        return [p[0].upper() + p[1:] for p in _post(attribute, value) if p.startswith("with ")]
    return []


def _statement(attribute: str, value: str) -> list[str]:
    """Stand-alone sentences about one attribute that do not need the venue as subject."""
    if attribute == "familyFriendly":
        return (["Children are welcome.", "Families are welcome.", "It is family-friendly."] if value == "yes"
                else ["Children are not welcome.", "It is for adults only.", "It is not family-friendly."])
    if attribute == "priceRange":
        return [{"cheap": "Prices are low.", "moderate": "Prices are moderate.", "high": "Prices are high.",
                 "less than £20": "Prices are less than £20.", "£20-25": "Prices range from £20 to £25.",
                 "more than £30": "Prices are more than £30."}[value]]
    if attribute == "customer rating":
        return [f"Its customer rating is {value}.", f"Customers rate it {value}."
                if value[0].isdigit() else f"Its rating is {value}."]
    return []


def attribute_surface_forms(mr: dict[str, str]) -> list[list[str]]:
    """Accepted lowercase surface forms for each attribute value of `mr` (in ATTRIBUTE_ORDER).

    Used by prefix.metrics.attribute_error_rate, which matches whole words after lowercasing and
    treating hyphens as spaces, and rejects a match preceded by a negation ("not", "n't", ...)
    unless the form itself starts with one. So for familyFriendly=yes, "family friendly" does
    not count inside "is not family-friendly", and familyFriendly=no needs a negated form.
    """
    forms: list[list[str]] = []
    for attribute in ATTRIBUTE_ORDER:
        if attribute not in mr:
            continue
        v = mr[attribute]
        if attribute in ("name", "near", "food", "eatType", "area"):
            f = {"coffee shop": ["coffee shop", "coffee house"],
                 "city centre": ["city centre", "centre of the city", "centre of town", "city center",
                                 "town centre"],
                 "riverside": ["riverside", "river"]}.get(v, [v.lower()])
        elif attribute == "priceRange":
            f = {"cheap": ["cheap", "low priced", "low price", "low prices", "inexpensive", "prices are low"],
                 "moderate": ["moderate", "moderately priced", "mid priced"],
                 "high": ["expensive", "high priced", "high price", "high prices", "pricey", "prices are high"],
                 "less than £20": ["less than £20", "under £20", "below £20"],
                 "£20-25": ["£20-25", "£20 to £25", "between £20 and £25", "£20-£25"],
                 "more than £30": ["more than £30", "over £30", "above £30"]}[v]
        elif attribute == "customer rating":
            if v[0].isdigit():
                f = [v, f"{v[0]} star", f"{_NUM_WORD[v[0]]} star", f"{v[0]} stars"]
            else:
                f = [f"{v} customer rating", f"{v} rating", f"{v} ratings", f"rated {v}",
                     f"rating is {v}"]
                f += {"low": ["low rated", "poorly rated"], "average": ["average rated", "average reviews"],
                      "high": ["highly rated", "rated highly", "top rated"]}[v]
        elif attribute == "familyFriendly":
            if v == "yes":
                f = ["family friendly", "kid friendly", "child friendly", "children are welcome",
                     "welcomes children", "welcome children", "welcoming children", "families are welcome",
                     "good for families", "suitable for families"]
            else:
                f = ["not family friendly", "isn't family friendly", "not kid friendly", "not child friendly",
                     "not a family friendly", "adults only", "not welcome children",
                     "children are not welcome", "not suitable for families", "no children"]
        else:
            raise KeyError(attribute)
        forms.append([x.lower() for x in f])
    return forms


# ---------------------------------------------------------------------------------------------
# Sentence planning.

GENERIC_NOUNS = ("venue", "place", "eatery", "spot")  # used when eatType is absent; never "restaurant"
_PRE_ORDER = ("priceRange", "customer rating", "familyFriendly", "area", "food")  # English adjective order


def _article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


def _join(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


class _Planner:
    """Holds one MR and an RNG; the plan methods below turn it into a text."""

    def __init__(self, mr: dict[str, str], rng: random.Random):
        self.mr, self.rng = mr, rng
        self.name = mr["name"]
        self.noun = mr.get("eatType") or rng.choice(GENERIC_NOUNS)
        attrs = [s for s in OPTIONAL_ATTRIBUTES if s in mr and s != "eatType"]
        rng.shuffle(attrs)  # attribute order in the text is free
        self.attrs = attrs

    # -- building blocks ------------------------------------------------------------------
    def pick(self, table, attribute: str) -> str:
        return self.rng.choice(table(attribute, self.mr[attribute]))

    def take(self, table, max_n: int, p: float = 0.6) -> list[str]:
        """Remove up to max_n attributes that `table` can realise (each with probability p)."""
        chosen = []
        for s in list(self.attrs):
            if len(chosen) < max_n and table(s, self.mr[s]) and self.rng.random() < p:
                chosen.append(s)
                self.attrs.remove(s)
        return chosen

    def np(self, max_pre: int = 3, max_post: int = 2, article: bool = True) -> str:
        """'a cheap French pub near Burger King' from prenominal + postnominal attributes."""
        pre = sorted(self.take(_pre, max_pre, 0.5), key=_PRE_ORDER.index)
        post = self.take(_post, max_post, 0.5)
        words = [self.pick(_pre, s) for s in pre]
        # comma between evaluative adjectives: "a cheap, family-friendly French pub"
        evaluative = [w for w, s in zip(words, pre) if s in _PRE_ORDER[:3]]
        rest = [w for w, s in zip(words, pre) if s not in _PRE_ORDER[:3]]
        head = " ".join(([", ".join(evaluative)] if evaluative else []) + rest + [self.noun])
        posts: list[str] = []
        for s in post:  # avoid "located near X located in the city centre"
            options = [p for p in _post(s, self.mr[s]) if not any(p.split()[0] == q.split()[0] for q in posts)]
            posts.append(self.rng.choice(options or _post(s, self.mr[s])))
        phrase = " ".join([head] + posts)
        return f"{_article(phrase)} {phrase}" if article else phrase

    def vps(self, max_n: int = 99) -> list[str]:
        """Verb phrases for up to max_n of the remaining attributes."""
        out = [self.pick(_vp, s) for s in self.attrs[:max_n]]
        del self.attrs[:max_n]
        return out

    def subject(self) -> str:
        """Subject for a follow-up sentence."""
        return self.rng.choice(["It", self.name, f"The {self.noun}", f"This {self.noun}"])

    def rest_sentences(self) -> str:
        """Whatever attributes are left, as one more sentence (or '' if none are left)."""
        if not self.attrs:
            return ""
        if len(self.attrs) == 1 and _statement(self.attrs[0], self.mr[self.attrs[0]]) and self.rng.random() < 0.5:
            return " " + self.pick(_statement, self.attrs.pop())
        return f" {self.subject()} {_join(self.vps())}."

    def rel(self, max_n: int = 2) -> str:
        """' that serves French food and is near X' (relative clause), or ''."""
        vps = self.vps(self.rng.randint(1, max_n)) if self.attrs else []
        return f" {self.rng.choice(['that', 'which'])} {_join(vps)}" if vps else ""

    # -- sentence plans: each returns a complete text --------------------------------------
    def plan_is_np(self) -> str:  # The Eagle is a cheap French pub near X that ...
        return f"{self.name} is {self.np()}{self.rel()}." + self.rest_sentences()

    def plan_is_np_then_it(self) -> str:  # The Eagle is a pub. It serves ...
        return f"{self.name} is {self.np(1, 1)}." + self.rest_sentences()

    def plan_vps(self) -> str:  # The Eagle is a pub, serves French food and is near X.
        first = [f"is {self.np(2, 0)}"] if "eatType" in self.mr else []
        vps = first + self.vps(4 - len(first))
        self.rng.shuffle(vps)
        return f"{self.name} {_join(vps)}." + self.rest_sentences()

    def plan_there_is(self) -> str:  # There is a cheap pub called The Eagle ...
        called = self.rng.choice(["called", "named"])
        return f"There is {self.np(2, 1)} {called} {self.name}{self.rel()}." + self.rest_sentences()

    def plan_front(self) -> str:  # By the river, The Eagle is a ...
        front = self.take(_front, 1, 1.0)
        if not front:
            return self.plan_is_np()
        return f"{self.pick(_front, front[0])}, {self.name} is {self.np()}." + self.rest_sentences()

    def plan_looking_for(self) -> str:  # If you are looking for a ..., try The Eagle.
        verb = self.rng.choice(["try", "visit", "go to", "check out"])
        return f"If you are looking for {self.np(3, 1)}, {verb} {self.name}." + self.rest_sentences()

    def plan_apposition(self) -> str:  # The Eagle, a French pub, is near X.
        np = self.np(2, 1)
        if not self.attrs:
            return f"{self.name} is {np}."
        return f"{self.name}, {np}, {_join(self.vps(2))}." + self.rest_sentences()

    def plan_np_called(self) -> str:  # A French pub called The Eagle is near X.
        np = self.np(2, 1)
        if not self.attrs:
            return f"{self.name} is {np}."
        called = self.rng.choice(["called", "named"])
        return f"{_cap(np)} {called} {self.name} {_join(self.vps(2))}." + self.rest_sentences()

    def plan_statements(self) -> str:  # The Eagle is a pub near X. Children are welcome.
        stmts = self.take(_statement, 2, 0.7)
        text = f"{self.name} is {self.np(2, 2)}{self.rel()}."
        self.rng.shuffle(stmts)
        rest = self.rest_sentences()
        return text + "".join(" " + self.pick(_statement, s) for s in stmts) + rest

    def plan_visit(self) -> str:  # Visit The Eagle, a cheap pub near X.
        verb = self.rng.choice(["Visit", "Try", "Check out", "Come to"])
        return f"{verb} {self.name}, {self.np()}{self.rel()}." + self.rest_sentences()

    def plan_and_it(self) -> str:  # The Eagle is a pub near X, and it serves ...
        np = self.np(2, 1)
        if not self.attrs:
            return f"{self.name} is {np}."
        return f"{self.name} is {np}, and it {_join(self.vps(2))}." + self.rest_sentences()

    def plan_for_food(self) -> str:  # For French food near X, try The Eagle, a pub.
        if "food" not in self.attrs:
            return self.plan_looking_for()
        self.attrs.remove("food")
        what = self.rng.choice(_food_nps(self.mr["food"]))
        extra = self.take(_post, 1, 0.7)
        where = "".join(" " + self.pick(_post, s) for s in extra)
        return (f"For {what}{where}, {self.rng.choice(['try', 'visit'])} {self.name}, {self.np(2, 1)}."
                + self.rest_sentences())


PLANS = tuple(name for name in vars(_Planner) if name.startswith("plan_"))


def realize(mr: dict[str, str], rng: random.Random, plan: str | None = None) -> str:
    """One natural-language realisation of `mr` (a random sentence plan unless `plan` is given)."""
    planner = _Planner(mr, rng)
    return getattr(planner, plan or rng.choice(PLANS))()


def format_source(mr: dict[str, str]) -> str:
    """'name[The Eagle] | eatType[pub] | ... =>' with attributes in ATTRIBUTE_ORDER."""
    return " | ".join(f"{s}[{mr[s]}]" for s in ATTRIBUTE_ORDER if s in mr) + " =>"


def sample_mr(rng: random.Random) -> dict[str, str]:
    n = rng.choices(N_ATTRIBUTES, N_ATTRIBUTES_WEIGHTS)[0]
    chosen = set(rng.sample(OPTIONAL_ATTRIBUTES, n - 1))
    mr = {"name": rng.choice(NAMES)}
    for s in OPTIONAL_ATTRIBUTES:  # canonical order -> deterministic dict (and JSON) order
        if s in chosen:
            mr[s] = rng.choice(NEAR_NAMES if s == "near" else VALUES[s])
    return mr


def _distinct_texts(mr: dict[str, str], k: int, rng: random.Random) -> list[str]:
    texts: list[str] = []
    for _ in range(50 * k):  # small MRs have fewer variants; give up rather than loop forever
        t = realize(mr, rng)
        if t not in texts:
            texts.append(t)
            if len(texts) == k:
                break
    return texts


def make_splits(seed: int = 0, n_train: int = 4000, n_val: int = 500, n_test: int = 500) -> dict[str, list[dict]]:
    """All three splits as lists of rows. Train/val sizes count (MR, text) rows; test counts MRs.

    Every MR belongs to exactly one split, so test MRs are unseen in training (as in E2E).
    """
    rng = random.Random(seed)
    seen: set[str] = set()

    def fresh_mr() -> dict[str, str]:
        while True:
            mr = sample_mr(rng)
            key = format_source(mr)
            if key not in seen:
                seen.add(key)
                return mr

    out: dict[str, list[dict]] = {}
    # Test first: unique MRs with 3-5 references each.
    out["test"] = []
    for _ in range(n_test):
        mr = fresh_mr()
        refs = _distinct_texts(mr, rng.randint(3, 5), rng)
        out["test"].append({"mr": mr, "source": format_source(mr), "target": refs[0], "references": refs})
    # Train/val: 1-3 realisations per MR, one row per (MR, text); the last MR may be cut short.
    for split, n_rows in (("val", n_val), ("train", n_train)):
        rows: list[dict] = []
        while len(rows) < n_rows:
            mr = fresh_mr()
            k = min(rng.choices((1, 2, 3), (5, 3, 2))[0], n_rows - len(rows))
            texts = _distinct_texts(mr, k, rng)
            rows += [{"mr": mr, "source": format_source(mr), "target": t, "references": texts} for t in texts]
        if split == "train":  # training reads only the target; leaving the list out keeps the file small
            rows = [{k: v for k, v in row.items() if k != "references"} for row in rows]
        out[split] = rows
    return {s: out[s] for s in SPLITS}


def _dumps(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def write_splits(out_dir: str | Path = DATA_DIR, seed: int = 0, **sizes: int) -> dict[str, int]:
    """Write <out_dir>/{train,val,test}.jsonl atomically; return row counts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = make_splits(seed, **sizes)
    for split, rows in data.items():
        with atomic_write(out_dir / f"{split}.jsonl", "w") as f:  # readers never see a half-written file
            f.writelines(_dumps(r) + "\n" for r in rows)
    return {s: len(rows) for s, rows in data.items()}


def load_e2e(split: str) -> list[dict]:
    """Rows of the committed data/e2e/<split>.jsonl (split: 'train', 'val' or 'test'), each with its
    "attribute_forms": {key: the accepted surface forms of its value}, in ATTRIBUTE_ORDER."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = DATA_DIR / f"{split}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; generate it with `python -m data.e2e`")
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for row in rows:  # what a scorer needs, so that it never has to know this module (prefix.metrics)
        row["attribute_forms"] = dict(zip([k for k in ATTRIBUTE_ORDER if k in row["mr"]],
                                          attribute_surface_forms(row["mr"])))
    return rows


def copy_check_sources(n, new_names=False, split="val"):
    """-> (sources, names): n restaurant inputs of the table-to-text task, for a zero-shot copy check.

    new_names=True puts a restaurant name that no split uses (UNSEEN_NAMES) in place of each row's name:
    a model that gets those right reads the name from its input; it cannot have remembered it.
    """
    rows = load_e2e(split)[:n]
    names = [UNSEEN_NAMES[i % len(UNSEEN_NAMES)] if new_names else r["mr"]["name"] for i, r in enumerate(rows)]
    sources = [r["source"].replace(f"name[{r['mr']['name']}]", f"name[{name}]", 1) for r, name in zip(rows, names)]
    return sources, names


# ---------------------------------------------------------------------------------------------
# Which words of a target a model gets wrong (lesson 7: where a prefix loses to fine-tuning, token by token)

WORD_GROUPS = ("held out", "copied", "sentence")
# The words no stage of the course base's web holds: the restaurant vocabulary and the task's keys said as one word.
HELD_OUT_WORDS = RESTAURANT_WORDS | {phrase for phrase in E2E_KEY_PHRASES if " " not in phrase}


def target_word_group(word: str | None, source: str) -> str:
    """Which of WORD_GROUPS a word of a target is, for its source:

    "held out"  restaurant vocabulary, which the course base's web never held ("pub", "food", "kid-friendly");
    "copied"    a value from the source, all of its letters and digits ("Olive", "riverside", "£20-25", "3");
    "sentence"  every other word, and punctuation (None): the sentence the values are said in ("is", "which",
                "near", "expensive", "."), the words a model chooses rather than copies.
    """
    if word is None:
        return "sentence"
    if word in HELD_OUT_WORDS or any(part in HELD_OUT_WORDS for part in word.split("-")):
        return "held out"
    values = {w for value in re.findall(r"\[([^\]]*)\]", source) for w in _value_words(value)}  # what is in [...]
    parts = _value_words(word)
    return "copied" if parts and all(part in values for part in parts) else "sentence"


def _value_words(text: str) -> list[str]:
    return re.findall(r"[\w£]+", text.lower())


# ---------------------------------------------------------------------------------------------
# Extrapolation (lesson 8, after the paper's section 7.2): train on part of the input space, test on the rest.

HELD_OUT_NAMES = NAMES[::4]  # 9 of the 36 venue names
HELD_OUT_PAIRS = (("Italian", "riverside"), ("Chinese", "city centre"), ("French", "city centre"),
                  ("Japanese", "riverside"))  # food x area combinations


def _held_out_name(row: dict) -> bool:
    return row["mr"]["name"] in HELD_OUT_NAMES


def _held_out_pair(row: dict) -> bool:
    return (row["mr"].get("food"), row["mr"].get("area")) in HELD_OUT_PAIRS


def extrapolation_splits() -> dict[str, list[dict]]:
    """{"train": the training rows with no held-out name and no held-out food x area pair,
        "seen": test rows with neither (the control), "unseen_names": test rows whose venue name training never
        had (their food x area pair is seen), "unseen_pairs": test rows with a food x area combination training
        never had (their name is seen)}."""
    test = load_e2e("test")
    return {
        "train": [r for r in load_e2e("train") if not _held_out_name(r) and not _held_out_pair(r)],
        "seen": [r for r in test if not _held_out_name(r) and not _held_out_pair(r)],
        "unseen_names": [r for r in test if _held_out_name(r) and not _held_out_pair(r)],
        "unseen_pairs": [r for r in test if _held_out_pair(r) and not _held_out_name(r)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(DATA_DIR))
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--n-val", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=500)
    args = ap.parse_args()
    counts = write_splits(args.out, args.seed, n_train=args.n_train, n_val=args.n_val, n_test=args.n_test)
    for split, n in counts.items():
        rows = [json.loads(line) for line in open(Path(args.out) / f"{split}.jsonl", encoding="utf-8")]
        n_mr = len({r["source"] for r in rows})
        print(f"{split}: {n} rows, {n_mr} MRs -> {Path(args.out) / f'{split}.jsonl'}")


if __name__ == "__main__":
    main()

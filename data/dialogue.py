"""A small booking dialogue: one assistant turn that answers a guest from a table. Generated and seeded; lesson 10.

    name[Copper House] | rooms[3] | price[$120] | breakfast[yes] | pets[no] User: Can I bring my dog?
    Assistant:  ->  Sorry, Copper House does not allow pets.

A right reply gets the facts of the table right: the yes or no, and every number and name it needs
(`reply_is_right`). The wording may vary: each fact has two ways to be said, and the scorer does not mind which.

    python -m data.dialogue        # prints a few turns
"""
from __future__ import annotations

import random
import re

from .web import thing_name

INTENTS = ("room", "price", "breakfast", "pets")
USER = {
    "room": ("Do you have a room free tonight?", "Is there a room for me tonight?"),
    "price": ("How much is a room?", "What does a night cost?"),
    "breakfast": ("Is breakfast included?", "Do I get breakfast?"),
    "pets": ("Can I bring my dog?", "Are pets allowed?"),
}
TOPIC = {"room": ("room", "full"), "price": ("night",), "breakfast": ("breakfast",), "pets": ("pet",)}  # one must be said
SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}
SPLIT_SIZES = {"train": 2000, "val": 200, "test": 200}


def sample_table(rng: random.Random) -> dict[str, str]:
    return {"name": thing_name(rng), "rooms": str(rng.choice((0, 0, *range(1, 10)))),
            "price": f"${rng.randint(4, 40) * 10}", "breakfast": rng.choice(("yes", "no")),
            "pets": rng.choice(("yes", "no"))}


def facts(table: dict[str, str], intent: str) -> tuple[str, list[str]]:
    """What a right reply must say: ("yes" or "no", the strings it must contain)."""
    name, rooms = table["name"], int(table["rooms"])
    if intent == "room":
        return ("yes", [table["rooms"], table["price"]]) if rooms else ("no", [name])
    if intent == "price":
        return "yes", [table["price"]]
    return table[intent], []


def reply(table: dict[str, str], intent: str, rng: random.Random) -> str:
    """The assistant's answer, in one of two wordings."""
    name, rooms, price = table["name"], table["rooms"], table["price"]
    yes = facts(table, intent)[0] == "yes"
    options = {
        "room": (f"Yes, {name} has {rooms} rooms free, at {price} a night.",
                 f"Yes, we have {rooms} rooms left tonight, for {price} a night.") if yes else
                (f"Sorry, {name} is full tonight.", f"I am sorry, there is no room left at {name} tonight."),
        "price": (f"A room costs {price} a night.", f"It is {price} a night at {name}."),
        "breakfast": ("Yes, breakfast is included.", f"Yes, breakfast comes with every room at {name}.") if yes else
                     ("No, breakfast is not included.", "No, we do not serve breakfast."),
        "pets": (f"Yes, pets are welcome at {name}.", "Yes, you can bring your pet.") if yes else
                (f"Sorry, {name} does not allow pets.", "No, pets are not allowed."),
    }[intent]
    return rng.choice(options)


def format_source(table: dict[str, str], question: str) -> str:
    return " | ".join(f"{k}[{v}]" for k, v in table.items()) + f" User: {question} Assistant:"


def dialogue_split(split: str) -> list[dict]:
    """Rows {"table", "intent", "source", "target"} of one split, the same every time."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be one of {sorted(SPLIT_SEEDS)}, got {split!r}")
    rng = random.Random(2000 + SPLIT_SEEDS[split])
    rows = []
    for _ in range(SPLIT_SIZES[split]):
        table, intent = sample_table(rng), rng.choice(INTENTS)
        rows.append({"table": table, "intent": intent, "source": format_source(table, rng.choice(USER[intent])),
                     "target": reply(table, intent, rng)})
    return rows


def reply_is_right(row: dict, text: str) -> bool:
    """Does `text` answer the row's question as its table says? Its first word says yes ("Yes") or no ("No",
    "Sorry", "I am sorry"; a price answer needs neither), a yes is not negated after it, it is about what was
    asked (a word of TOPIC: "Yes, we have 2 rooms" does not answer "Is breakfast included?"), and it contains every
    number and name the answer needs."""
    polarity, needed = facts(row["table"], row["intent"])
    if not any(word in text.lower() for word in TOPIC[row["intent"]]):
        return False
    first = (re.findall(r"[a-z]+", text.lower()) or [""])[0]
    said = "yes" if first == "yes" else "no" if first in ("no", "sorry", "i") else None
    if row["intent"] != "price" and said != polarity:
        return False
    if said == "yes" and re.search(r"\b(not|no|never)\b|n't", text.lower()[3:]):  # "Yes, we do not serve breakfast."
        return False  # a yes that takes itself back answers nothing (no right reply of the data does this)
    return all(re.search(rf"(?<![\w$]){re.escape(s)}(?!\w)", text) for s in needed)


if __name__ == "__main__":
    for row in dialogue_split("train")[:6]:
        print(row["source"], row["target"])

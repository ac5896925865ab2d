"""Evaluation metrics, written from scratch: corpus BLEU, ROUGE-L, accuracy/F1, attribute error rate.

All functions are pure and take plain Python lists. BLEU and ROUGE-L return 0..100 (as papers
report them); accuracy, F1 and the attribute error rate return fractions in 0..1.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Hashable, Sequence

# ---------------------------------------------------------------------------------------------
# Tokenisation

# ASCII punctuation/symbols that always become their own token: everything except letters,
# digits, apostrophe, period, comma and hyphen (those three need context, see below).
_ALWAYS_SPLIT = re.compile(r"([!-&(-+/:-@\[-`{-~])")
_PERIOD_COMMA_AFTER_NONDIGIT = re.compile(r"([^0-9])([.,])")
_PERIOD_COMMA_BEFORE_NONDIGIT = re.compile(r"([.,])([^0-9])")
_DASH_AFTER_DIGIT = re.compile(r"([0-9])(-)")


def tokenize(text: str, lowercase: bool = False) -> list[str]:
    """Split `text` into tokens following the rules of mteval-v13a (sacrebleu's default '13a').

    - ASCII symbols such as ! ? ; : ( ) " / become separate tokens;
    - '.' and ',' are split off unless they sit between digits ("3.5", "1,000" stay whole);
    - '-' is split off only after a digit ("£20-25" -> "£20 - 25", "family-friendly" stays);
    - apostrophes and non-ASCII symbols (£) stay attached ("isn't", "£20").
    (13a also unescapes &quot; &amp; &lt; &gt;; we do not, as our texts contain no markup.)
    """
    if lowercase:
        text = text.lower()
    text = f" {text} "
    text = _ALWAYS_SPLIT.sub(r" \1 ", text)
    text = _PERIOD_COMMA_AFTER_NONDIGIT.sub(r"\1 \2 ", text)
    text = _PERIOD_COMMA_BEFORE_NONDIGIT.sub(r" \1 \2", text)
    text = _DASH_AFTER_DIGIT.sub(r"\1 \2 ", text)
    return text.split()


def _tokens(text: str, tok: bool, lowercase: bool) -> list[str]:
    if tok:
        return tokenize(text, lowercase)
    return (text.lower() if lowercase else text).split()


def _check_corpus(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if not hypotheses:
        raise ValueError("empty corpus")
    if any(isinstance(refs, str) or len(refs) == 0 for refs in references):
        raise ValueError("each hypothesis needs a non-empty *list* of reference strings")


# ---------------------------------------------------------------------------------------------
# BLEU

def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _closest_ref_len(hyp_len: int, ref_lens: list[int]) -> int:
    # closest reference length; on a tie take the shorter one (as mteval/sacrebleu do)
    return min(ref_lens, key=lambda r: (abs(r - hyp_len), r))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4,
                tokenize: bool = True, lowercase: bool = False) -> float:
    """Corpus-level BLEU (Papineni et al. 2002) in 0..100.

    references[i] is the list of reference strings for hypotheses[i] (any number >= 1).
    n-gram counts of each hypothesis are clipped by the maximum count of that n-gram in any
    one of its references; clipped matches and hypothesis n-gram totals are summed over the
    corpus before dividing (so it is not an average of sentence scores). Score =
    BP * exp(mean_n log p_n) with uniform weights; no smoothing, so the score is 0 if any p_n
    is 0. BP = exp(1 - r/c) if c < r else 1, where c is the total hypothesis length and r
    the sum over sentences of the reference length closest to the hypothesis length (ties go
    to the shorter reference).

    tokenize=True uses `tokenize` (13a rules); tokenize=False splits on whitespace only (for
    pre-tokenised text). Case-sensitive unless lowercase=True.
    With tokenize=False this equals sacrebleu.corpus_bleu(..., tokenize="none",
    smooth_method="none").score.
    """
    _check_corpus(hypotheses, references)
    matches = [0] * max_n
    totals = [0] * max_n
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        h = _tokens(hyp, tokenize, lowercase)
        rs = [_tokens(r, tokenize, lowercase) for r in refs]
        hyp_len += len(h)
        ref_len += _closest_ref_len(len(h), [len(r) for r in rs])
        for n in range(1, max_n + 1):
            hyp_counts = _ngrams(h, n)
            max_ref: Counter = Counter()
            for r in rs:
                max_ref |= _ngrams(r, n)  # | keeps the max count per n-gram
            matches[n - 1] += sum(min(c, max_ref[g]) for g, c in hyp_counts.items())
            totals[n - 1] += sum(hyp_counts.values())
    if min(matches) == 0:  # some precision is 0 (or undefined): log would be -inf
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity = 1.0 if hyp_len >= ref_len else math.exp(1 - ref_len / hyp_len)
    return 100.0 * brevity * math.exp(log_precision)


# ---------------------------------------------------------------------------------------------
# ROUGE-L

def _lcs_len(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(hypotheses: Sequence[str], references: Sequence[Sequence[str]], beta: float = 1.2,
            tokenize: bool = True, lowercase: bool = False) -> float:
    """Sentence-level ROUGE-L (Lin 2004) averaged over the corpus, in 0..100.

    For a hypothesis h and a reference r with LCS length l: P = l/|h|, R = l/|r|,
    F = (1 + beta^2) P R / (R + beta^2 P). beta=1.2 (weighting recall a little more) as in
    the COCO-caption ROUGE-L used by the E2E challenge scripts; beta=1 gives the F1 variant.
    With several references we take the best F over them. (COCO instead combines the max P
    and max R over references, which can differ slightly when references disagree.)
    Tokenisation as in corpus_bleu.
    """
    _check_corpus(hypotheses, references)
    total = 0.0
    for hyp, refs in zip(hypotheses, references):
        h = _tokens(hyp, tokenize, lowercase)
        best = 0.0
        for ref in refs:
            r = _tokens(ref, tokenize, lowercase)
            lcs = _lcs_len(h, r)
            if lcs == 0:
                continue
            p, rec = lcs / len(h), lcs / len(r)
            best = max(best, (1 + beta ** 2) * p * rec / (rec + beta ** 2 * p))
        total += best
    return 100.0 * total / len(hypotheses)


# ---------------------------------------------------------------------------------------------
# Classification

def _check_pairs(preds: Sequence, labels: Sequence) -> None:
    if len(preds) != len(labels):
        raise ValueError(f"{len(preds)} predictions but {len(labels)} labels")
    if not preds:
        raise ValueError("empty input")


def accuracy(preds: Sequence[Hashable], labels: Sequence[Hashable]) -> float:
    """Fraction of positions where preds[i] == labels[i]."""
    _check_pairs(preds, labels)
    return sum(p == y for p, y in zip(preds, labels)) / len(labels)


def f1_score(preds: Sequence[Hashable], labels: Sequence[Hashable], positive: Hashable = 1) -> float:
    """F1 of class `positive`: 2 TP / (2 TP + FP + FN); 0.0 when TP = 0 (incl. the 0/0 case)."""
    _check_pairs(preds, labels)
    tp = sum(p == positive and y == positive for p, y in zip(preds, labels))
    fp = sum(p == positive and y != positive for p, y in zip(preds, labels))
    fn = sum(p != positive and y == positive for p, y in zip(preds, labels))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def macro_f1(preds: Sequence[Hashable], labels: Sequence[Hashable]) -> float:
    """Unweighted mean of per-class F1 over every class seen in labels or preds.

    A class that is never predicted (or only predicted, never true) gets F1 = 0 and still
    counts, so ignoring a rare class is penalised.
    """
    _check_pairs(preds, labels)
    classes = dict.fromkeys([*labels, *preds])  # ordered, so the float sum is reproducible
    return sum(f1_score(preds, labels, c) for c in classes) / len(classes)


def confusion_matrix(preds: Sequence[int], labels: Sequence[int], n_classes: int = 2) -> list[list[int]]:
    """counts[true][predicted]: row = the true label, column = the predicted one."""
    _check_pairs(preds, labels)
    counts = [[0] * n_classes for _ in range(n_classes)]
    for p, y in zip(preds, labels):
        counts[y][p] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# Question answering: exact match and token F1 (as SQuAD scores answers)

def normalize_answer(text: str) -> list[str]:
    """Lowercase words, without punctuation or the articles a, an, the: how two answers are compared."""
    return [w for w in re.findall(r"[\w$£€]+", text.lower()) if w not in ("a", "an", "the")]


def exact_match(preds: Sequence[str], answers: Sequence[str]) -> float:
    """Share of predictions whose normalized words equal the answer's."""
    _check_pairs(preds, answers)
    return sum(normalize_answer(p) == normalize_answer(a) for p, a in zip(preds, answers)) / len(answers)


def token_f1(preds: Sequence[str], answers: Sequence[str]) -> float:
    """Mean over examples of the F1 between the prediction's words and the answer's (partial credit)."""
    _check_pairs(preds, answers)
    total = 0.0
    for p, a in zip(preds, answers):
        p, a = normalize_answer(p), normalize_answer(a)
        common = sum((Counter(p) & Counter(a)).values())
        if not p or not a:
            total += float(p == a)
        elif common:
            precision, recall = common / len(p), common / len(a)
            total += 2 * precision * recall / (precision + recall)
    return total / len(answers)


# ---------------------------------------------------------------------------------------------
# Attribute error rate (for table-to-text)

_NEGATIONS = {"not", "no", "never", "non", "nor", "without"}
_CLAUSE_PUNCT = set(".,;:!?")
_WORD = re.compile(r"[\w£$€]+(?:'\w+)*|[.,;:!?]")


def _words(text: str) -> list[str]:
    """Lowercase words plus clause punctuation (. , ; : ! ?); hyphens count as spaces."""
    text = text.lower().replace("\u2019", "'").replace("-", " ")
    return _WORD.findall(text)


def _negated(words: list[str], i: int) -> bool:
    """Is there a negation among the two words before position i, within the same clause?"""
    for w in reversed(words[max(0, i - 2):i]):
        if w in _CLAUSE_PUNCT:
            return False  # punctuation: "Children are not welcome. Prices are low."
        if w in _NEGATIONS or w.endswith("n't"):
            return True
    return False


def mentions(text: str, forms: Sequence[str]) -> bool:
    """True if any surface form occurs in `text` as whole words (case-insensitive).

    A match directly preceded (within two words) by a negation such as "not" or "isn't" does
    not count, unless the form itself starts with a negation: so "family-friendly" is not
    found in "is not family-friendly", while the form "not family-friendly" is.
    """
    return _mentions(_words(text), forms)


@lru_cache(maxsize=4096)
def _form_words(form: str) -> list[str]:
    return _words(form)


def _mentions(words: list[str], forms: Sequence[str]) -> bool:
    for form in forms:
        f = _form_words(form)
        check_negation = f[0] not in _NEGATIONS and not f[0].endswith("n't")
        for i in range(len(words) - len(f) + 1):
            if words[i:i + len(f)] == f and not (check_negation and _negated(words, i)):
                return True
    return False


def attribute_error_rate(outputs: Sequence[str], surface_forms_per_example: Sequence[Sequence[Sequence[str]]]) -> float:
    """Fraction of attribute values (over all attributes of all examples) not mentioned in the output: what the E2E
    literature calls the slot error rate (an E2E "slot" is an attribute; this course keeps "slot" for attention).

    surface_forms_per_example[i] has one list of accepted surface forms per attribute value of
    example i (e.g. data.e2e.attribute_surface_forms(mr)); a value counts as realised if
    `mentions(outputs[i], forms)`. Only omissions are counted, not hallucinated extra attributes.
    """
    _check_pairs(outputs, surface_forms_per_example)
    n_attributes = sum(len(attributes) for attributes in surface_forms_per_example)
    if n_attributes == 0:
        raise ValueError("no attribute values to check")
    missing = 0
    for out, attributes in zip(outputs, surface_forms_per_example):
        words = _words(out)  # tokenise once per output, not once per attribute
        missing += sum(not _mentions(words, forms) for forms in attributes)
    return missing / n_attributes


def attribute_error_by_key(outputs: Sequence[str], forms_by_key_per_example: Sequence[dict]) -> dict:
    """{key: fraction of the inputs that have `key` whose output does not mention its value}: which attributes a
    method fails to state (attribute_error_rate is the same count over all keys together).
    forms_by_key_per_example[i]: {key: accepted surface forms of example i's value} (a row's "attribute_forms")."""
    _check_pairs(outputs, forms_by_key_per_example)
    missed, seen = {}, {}
    for out, forms_by_key in zip(outputs, forms_by_key_per_example):
        words = _words(out)
        for key, forms in forms_by_key.items():
            seen[key] = seen.get(key, 0) + 1
            missed[key] = missed.get(key, 0) + (not _mentions(words, forms))
    return {key: missed[key] / seen[key] for key in seen}

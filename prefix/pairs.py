"""Turning (source, target) text pairs into training batches, and decoding outputs for evaluation.

One example is the source tokens followed by the target tokens and <|endoftext|>:
    x = [s0 s1 s2 t0 t1 t2]        the model reads these
    y = [-100 -100 t0 t1 t2 eot]   and is scored only on predicting the target (-100 = no loss)
No loss on the source (the model should not learn to write meaning representations) and none on prefix
positions (there are none in x: the prefix lives in the key/value slots).
"""
import torch

from .prefixed import generate_fn


def encode_pair_ids(src_ids, tgt_ids, eot_id):
    """Source ids + target ids -> (x, y): x = src + tgt, y = the next tokens, -100 while the next token is source."""
    ids = list(src_ids) + list(tgt_ids) + [eot_id]
    x, y = ids[:-1], ids[1:]
    n_masked = max(len(src_ids) - 1, 0)  # y[t] = ids[t+1]: positions t < len(src)-1 would predict source tokens
    return x, [-100] * n_masked + y[n_masked:]


def encode_pair(enc, source, target, block_size):
    """Text pair -> (x, y) lists of equal length (the target gets a leading space and <|endoftext|>)."""
    x, y = encode_pair_ids(enc.encode_ordinary(source), enc.encode_ordinary(" " + target), enc.eot_token)
    if len(x) > block_size:
        raise ValueError(f"an example has {len(x)} tokens, more than block_size={block_size}: "
                         f"shorten it or use a model with a longer context.\n  source: {source[:80]}...")
    return x, y


def pad_inputs(rows, pad_id):
    """list of token-id lists -> x (B, T) right-padded with pad_id, attention_mask (B, T) with 0 on padding."""
    T = max(len(r) for r in rows)
    x = torch.full((len(rows), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        x[i, :len(r)], mask[i, :len(r)] = torch.tensor(r, dtype=torch.long), 1
    return x, mask


def pad_pairs(pairs, pad_id):
    """list of (x, y) -> x (B, T), y (B, T) with -100 on padding, attention_mask (B, T) with 0 on padding."""
    x, mask = pad_inputs([xs for xs, _ in pairs], pad_id)
    y = torch.full_like(x, -100)
    for i, (_, ys) in enumerate(pairs):
        y[i, :len(ys)] = torch.tensor(ys, dtype=torch.long)
    return x, y, mask


class PairBatches:
    """get_batch(split, step) -> (x, y, attention_mask) on `device`, the same batch for the same (split, step).

    Each epoch walks a fresh permutation seeded by (seed, epoch), so a resumed run sees exactly the batches
    an uninterrupted one would.

    Length buckets: a batch is padded to its longest row, and E2E rows run from ~40 to ~190 tokens, so a random
    batch is about 30% padding. Inside each window of `bucket` batches of the shuffled epoch the rows are sorted
    by length, cut into batches, and the batches are shuffled again: a batch holds rows of about one length (a
    step costs ~half), every row is still seen once per epoch, and the order is still random. bucket=1: no sorting.
    """

    def __init__(self, enc, pairs_by_split, batch_size, block_size, seed=0, device="cpu", bucket=32):
        encoded = {split: [encode_pair(enc, s, t, block_size) for s, t in pairs]
                   for split, pairs in pairs_by_split.items()}
        self._setup(encoded, batch_size, enc.eot_token, seed, device, bucket)

    @classmethod
    def from_rows(cls, rows_by_split, batch_size, pad_id, seed=0, device="cpu", bucket=32):
        """Batches of rows already encoded as (x, y) token lists, e.g. a plain language-model loss on texts."""
        batches = cls.__new__(cls)
        batches._setup(rows_by_split, batch_size, pad_id, seed, device, bucket)
        return batches

    def _setup(self, encoded, batch_size, pad_id, seed, device, bucket):
        for split, rows in encoded.items():
            if not rows:
                raise ValueError(f"split {split!r} has no examples.")
        if isinstance(bucket, bool) or not isinstance(bucket, int) or bucket < 1:
            raise ValueError(f"bucket={bucket!r}: give a whole number >= 1 of batches per length-sorted window "
                             f"(1 = no sorting).")
        self.encoded = encoded
        self.batch_size, self.seed, self.device, self.pad_id, self.bucket = batch_size, seed, device, pad_id, bucket
        self._epoch_cache = {}  # split -> (epoch, its row order): batches of one step come from one or two epochs

    def epoch_order(self, split, epoch):
        """The row indices of one epoch in the order batches take them (seeded by (seed, epoch))."""
        cached = self._epoch_cache.get(split)
        if cached is not None and cached[0] == epoch:
            return cached[1]
        rows = self.encoded[split]
        n, bs = len(rows), min(self.batch_size, len(rows))
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=generator).tolist()
        if self.bucket > 1:
            window = bs * self.bucket
            order = [i for w in range(0, n, window)
                     for i in sorted(order[w:w + window], key=lambda i: len(rows[i][0]))]
            batches = [order[b:b + bs] for b in range(0, n, bs)]
            # sorted windows would run short -> long -> short -> long: shuffle the batches, keep their rows
            order = [i for j in torch.randperm(len(batches), generator=generator).tolist() for i in batches[j]]
        self._epoch_cache[split] = (epoch, order)
        return order

    def __call__(self, split, step):
        rows = self.encoded[split]
        n, bs = len(rows), min(self.batch_size, len(self.encoded[split]))
        start = step * bs
        picked = []
        while len(picked) < bs:
            epoch, offset = divmod(start + len(picked), n)
            picked += self.epoch_order(split, epoch)[offset: offset + bs - len(picked)]
        return tuple(t.to(self.device) for t in pad_pairs([rows[i] for i in picked], self.pad_id))

    def target_tokens(self, split):
        return sum(sum(1 for t in y if t != -100) for _, y in self.encoded[split])


@torch.no_grad()
def generate_targets(model, enc, sources, max_new_tokens=64, batch_size=64):
    """Greedy-decode a target for every source; returns the texts in order.

    model: a GPT (a fine-tuned copy, or the base) or a PrefixedGPT. Sources are sorted by token length and decoded
    batch_size at a time with minigpt.generate_ragged, so a batch has little padding and each output is what
    decoding its source alone gives (up to float rounding on near-ties).
    """
    ragged = generate_fn(model, ragged=True)
    encoded = [enc.encode_ordinary(s) for s in sources]
    order = sorted(range(len(sources)), key=lambda i: len(encoded[i]))
    outputs = [None] * len(sources)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        rows = ragged([encoded[i] for i in chunk], max_new_tokens, temperature=0, stop_token=enc.eot_token)
        for row, i in zip(rows, chunk):
            outputs[i] = enc.decode([t for t in row if t != enc.eot_token]).strip()
    return outputs


def target_token_words(enc, target):
    """The word each token of an encoded target belongs to -> list of lowercase words, one per token of
    encode_pair's target (" " + target, then <|endoftext|>); None for punctuation around words and for
    <|endoftext|>.

    Words are the target's space-separated words without the punctuation at their ends ("Ranch," -> "ranch";
    "kid-friendly" and "£20-25" stay whole, hyphen included); a token belongs to the word its first non-space
    byte falls in."""
    text = (" " + target).encode()
    word_of_byte, words, start = [None] * len(text), [], 0  # which word (index into words) each byte is part of
    for piece in text.split(b" "):
        core = piece.strip(b".,;:!?()\"'")
        if core:
            words.append(core.decode().lower())
            first = start + piece.index(core)
            word_of_byte[first:first + len(core)] = [len(words) - 1] * len(core)
        start += len(piece) + 1
    out, offset = [], 0
    for token in enc.encode_ordinary(" " + target):
        piece = enc.decode_single_token_bytes(token)
        first = offset + len(piece) - len(piece.lstrip(b" "))
        inside = piece.strip(b" ") and word_of_byte[first] is not None  # a token of spaces alone is in no word
        out.append(words[word_of_byte[first]] if inside else None)
        offset += len(piece)
    return out + [None]  # <|endoftext|>


@torch.no_grad()
def target_token_losses(model, enc, pairs, block_size, batch_size=32):
    """Teacher-forced cross-entropy of every target token -> one list of floats (nats) per (source, target) pair,
    aligned with target_token_words(enc, target): where a model is unsure, token by token. The mean over all
    tokens is the loss the methods train on. model: a GPT or a PrefixedGPT, used in the mode it is in."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(pairs), batch_size):
        rows = [encode_pair(enc, s, t, block_size) for s, t in pairs[start:start + batch_size]]
        x, y, mask = (t.to(device) for t in pad_pairs(rows, enc.eot_token))
        logits = model(x, attention_mask=mask).logits  # (B, T, V)
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 logits: the loss in fp32
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (B, T)
        out += [loss[b][y[b] != -100].tolist() for b in range(len(rows))]
    return out

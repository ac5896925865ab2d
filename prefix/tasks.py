"""Turning (source, target) text pairs into training batches, and decoding outputs for evaluation.

One example is the source tokens followed by the target tokens and <|endoftext|>:
    x = [s0 s1 s2 t0 t1 t2]        the model reads these
    y = [-100 -100 t0 t1 t2 eot]   and is scored only on predicting the target (-100 = no loss)
No loss on the source (the model should not learn to write meaning representations) and none on prefix
positions (there are none in x: the prefix lives in the key/value slots).
"""
from collections import defaultdict

import torch


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


def pad_rows(rows, pad_id):
    """list of (x, y) -> x (B, T), y (B, T) with -100 on padding, attention_mask (B, T) with 0 on padding."""
    T = max(len(x) for x, _ in rows)
    x = torch.full((len(rows), T), pad_id, dtype=torch.long)
    y = torch.full((len(rows), T), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, (xs, ys) in enumerate(rows):
        x[i, :len(xs)], y[i, :len(ys)], mask[i, :len(xs)] = torch.tensor(xs), torch.tensor(ys), 1
    return x, y, mask


class PairBatches:
    """get_batch(split, step) -> (x, y, attention_mask) on `device`, the same batch for the same (split, step).

    Each epoch walks a fresh permutation seeded by (seed, epoch), so a resumed run sees exactly the batches
    an uninterrupted one would.
    """

    def __init__(self, enc, pairs_by_split, batch_size, block_size, seed=0, device="cpu"):
        encoded = {split: [encode_pair(enc, s, t, block_size) for s, t in pairs]
                   for split, pairs in pairs_by_split.items()}
        self._setup(encoded, batch_size, enc.eot_token, seed, device)

    @classmethod
    def from_rows(cls, rows_by_split, batch_size, pad_id, seed=0, device="cpu"):
        """Batches of rows already encoded as (x, y) token lists, e.g. a plain language-model loss on texts."""
        batches = cls.__new__(cls)
        batches._setup(rows_by_split, batch_size, pad_id, seed, device)
        return batches

    def _setup(self, encoded, batch_size, pad_id, seed, device):
        for split, rows in encoded.items():
            if not rows:
                raise ValueError(f"split {split!r} has no examples.")
        self.encoded = encoded
        self.batch_size, self.seed, self.device, self.pad_id = batch_size, seed, device, pad_id

    def __call__(self, split, step):
        rows = self.encoded[split]
        n, bs = len(rows), min(self.batch_size, len(self.encoded[split]))
        start = step * bs
        picked = []
        while len(picked) < bs:
            epoch, offset = divmod(start + len(picked), n)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))
            picked += order[offset: offset + bs - len(picked)].tolist()
        return tuple(t.to(self.device) for t in pad_rows([rows[i] for i in picked], self.pad_id))

    def target_tokens(self, split):
        return sum(sum(1 for t in y if t != -100) for _, y in self.encoded[split])


@torch.no_grad()
def generate_targets(generate_fn, enc, sources, max_new_tokens=64, batch_size=64, device="cpu"):
    """Greedy-decode a target for every source; returns the texts in order.

    generate_fn(idx, max_new_tokens, temperature=0, stop_token=eot) -> tokens, e.g. PrefixedGPT.generate or
    functools.partial(minigpt.generate, model). Generation takes rows of equal length, so sources are grouped
    by token length first (no padding needed, and the result equals decoding each source alone).
    """
    encoded = [enc.encode_ordinary(s) for s in sources]
    groups = defaultdict(list)
    for i, ids in enumerate(encoded):
        groups[len(ids)].append(i)
    outputs = [None] * len(sources)
    for length, idxs in sorted(groups.items()):
        for start in range(0, len(idxs), batch_size):
            chunk = idxs[start:start + batch_size]
            prompt = torch.tensor([encoded[i] for i in chunk], dtype=torch.long, device=device)
            out = generate_fn(prompt, max_new_tokens, temperature=0, stop_token=enc.eot_token)
            for row, i in zip(out[:, length:].tolist(), chunk):
                if enc.eot_token in row:
                    row = row[:row.index(enc.eot_token)]
                outputs[i] = enc.decode(row).strip()
    return outputs

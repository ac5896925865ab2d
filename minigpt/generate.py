"""Sampling text from a GPT, with a KV cache built on the same key/value slots the prefix uses.

The cache: after a forward pass every layer returns the keys/values it used. Feed them back as
`slots` and the next call only has to process the one new token. A learned prefix is simply the
first thing in that cache.

Past block_size: positions are learned and absolute (0..block_size-1), so cached keys cannot slide
along. Once the text is longer than block_size, every step recomputes on the last block_size tokens
(the prefix stays in front), exactly like the uncached loop. Results are identical; only the
speed-up is gone beyond that length.
"""
import math

import torch


def top_k_filter(logits, k):
    """(B, V) -> (B, V): in each row, every logit below the k-th largest becomes -inf (ties with it are kept)."""
    if k < 1:
        raise ValueError(f"top_k={k} must be >= 1 (or None to keep every token).")
    kth = torch.topk(logits, min(k, logits.size(-1)), dim=-1).values[:, -1:]  # (B, 1) k-th largest
    return logits.masked_fill(logits < kth, float("-inf"))  # softmax turns -inf into probability 0


def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    """(B, V) logits of the last position -> (B, 1) next token ids. temperature 0 means greedy."""
    if temperature < 0:
        raise ValueError(f"temperature={temperature} must be >= 0 (0 = always take the most likely token).")
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


def check_prompt(idx, config, pos_offset=0):
    """Clear errors for prompts the model cannot take (pos_offset: the position of the prompt's first token)."""
    if not torch.is_tensor(idx) or idx.dim() != 2:
        raise ValueError("prompt must be a (B, T) tensor of token ids; for one text use torch.tensor([ids]).")
    if idx.size(1) == 0:
        raise ValueError("empty prompt: give at least one token (an <|endoftext|> token starts a fresh text).")
    room = config.block_size - pos_offset
    if idx.size(1) > room:
        limit = (f"{room} after the {pos_offset} positions its prefix takes (block_size={config.block_size})"
                 if pos_offset else f"block_size={config.block_size}")
        raise ValueError(f"prompt has {idx.size(1)} tokens but the model sees at most {limit}; "
                         f"keep its last {room} tokens: idx[:, -{room}:].")
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= config.vocab_size:
        raise ValueError(f"prompt has token id {hi if hi >= config.vocab_size else lo} outside the vocabulary "
                         f"[0, {config.vocab_size}); encode it with the tokenizer the model was trained with.")


def check_sampling_args(max_new_tokens, temperature, top_k):
    """Clear errors for settings generate() cannot use; each says what to pass instead."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens!r}: pass a whole number >= 0 of tokens to add, e.g. 50.")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) \
            or temperature < 0:
        raise ValueError(f"temperature={temperature!r}: pass a number >= 0 (0 = greedy, 1 = the model's own "
                         f"distribution, e.g. 0.8).")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k={top_k!r}: pass a whole number >= 1 (sample among the k likeliest tokens), "
                         f"or None to keep every token.")


@torch.no_grad()
def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None,
             slots=None, use_cache=True, stop_token=None, pos_offset=0):
    """Continue each row of idx (B, T) by max_new_tokens tokens; returns (B, T + new).

    slots: per layer (k, v), each (B, H, P, D): a prefix every step attends to (never modified).
    pos_offset: the position of idx's first token: 0 (minigpt's rule: slots carry no position), or P for a prefix
    that takes positions 0..P-1 (PEFT's rule); real tokens then have block_size - P positions.
    generator: a torch.Generator on the model's device, for reproducible sampling.
    stop_token: stop early once every row has produced it.
    Rows must have the same length (no padding).
    """
    block_size = model.config.block_size - pos_offset  # real tokens the model can see at once
    check_prompt(idx, model.config, pos_offset)
    check_sampling_args(max_new_tokens, temperature, top_k)
    was_training = model.training
    model.eval()
    cache, n_cached = None, 0  # cache: per layer (k, v) = prefix slots + keys of the n_cached real tokens
    done = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
    for _ in range(max_new_tokens):
        if use_cache and idx.size(1) <= block_size:
            new = idx[:, n_cached:]  # only tokens the cache has not seen (the whole prompt at first)
            out = model(new, slots=cache if cache is not None else slots, pos_offset=pos_offset + n_cached)
            cache, n_cached = out.kv, idx.size(1)
        else:  # no cache, or past block_size: recompute on the last block_size tokens
            out = model(idx[:, -block_size:], slots=slots, pos_offset=pos_offset)
        next_id = sample_next(out.logits[:, -1, :], temperature, top_k, generator)  # (B, 1)
        idx = torch.cat([idx, next_id], dim=1)
        if stop_token is not None:
            done |= next_id.squeeze(1) == stop_token
            if done.all():
                break
    model.train(was_training)
    return idx


@torch.no_grad()
def generate_ragged(model, prompts, max_new_tokens, temperature=1.0, top_k=None, generator=None,
                    slots=None, stop_token=None, pos_offset=0):
    """Continue prompts of different lengths in one batch, through the KV cache -> each row's new tokens (lists).

    prompts: B lists of token ids. They are right-padded to the longest, T. Row b's padding (positions len_b..T-1)
    is hidden by the attention mask from every later query, and row b's new tokens take positions len_b, len_b+1, ...
    So every row gets what generate() gives it alone, up to float rounding in the batched matmuls (greedy decoding
    can then differ only where two tokens are all but tied). One batch instead of one per prompt length: the
    E2E test inputs have ~70 lengths among 500.
    The first pass reads every prompt whole, so each row's first new token comes from the logits of its last real
    token (index len_b - 1), not of the last column.
    slots, pos_offset, stop_token, sampling: as generate(). Each row's list ends with stop_token if it made one.
    The longest prompt plus max_new_tokens must fit in the context (generate() recomputes past it; this does not).
    """
    check_sampling_args(max_new_tokens, temperature, top_k)
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("give a non-empty list of prompts, each at least one token long.")
    device = next(model.parameters()).device
    lengths = torch.tensor([len(p) for p in prompts], device=device)  # (B,)
    B, T = len(prompts), int(lengths.max())
    room = model.config.block_size - pos_offset
    if T + max_new_tokens > room:
        raise ValueError(f"the longest prompt ({T} tokens) plus {max_new_tokens} new tokens does not fit in the "
                         f"{room} positions the model has; ask for fewer tokens, or use generate() on prompts of one "
                         f"length (it recomputes on the last tokens once the context is full).")
    idx = torch.zeros((B, T), dtype=torch.long, device=device)  # padding: any valid id (it is never looked at)
    for b, p in enumerate(prompts):
        idx[b, :len(p)] = torch.tensor(p, dtype=torch.long)
    check_prompt(idx, model.config, pos_offset)
    P = 0 if slots is None else slots[0][0].size(2)
    real = torch.arange(T, device=device)[None, :] < lengths[:, None]  # (B, T) False on padding
    # the keys a query may look at: the slots, each row's real tokens, and every token generated so far
    visible = torch.cat([real.new_ones(B, P), real, real.new_ones(B, max_new_tokens)], dim=1)  # (B, P+T+new)
    was_training = model.training
    model.eval()
    out = model(idx, attention_mask=visible[:, :P + T], slots=slots, pos_offset=pos_offset)
    logits = out.logits[torch.arange(B, device=device), lengths - 1]  # (B, V): after each row's last real token
    new, done = [], torch.zeros(B, dtype=torch.bool, device=device)
    for step in range(max_new_tokens):
        next_id = sample_next(logits, temperature, top_k, generator)  # (B, 1)
        new.append(next_id)
        if stop_token is not None:
            done |= next_id.squeeze(1) == stop_token
        if step == max_new_tokens - 1 or (stop_token is not None and done.all()):
            break
        # the cache holds P slots + T prompt columns + step earlier new tokens; row b's new token sits at len_b + step
        out = model(next_id, attention_mask=visible[:, :P + T + step + 1], slots=out.kv,
                    pos_offset=pos_offset + lengths + step)
        logits = out.logits[:, -1, :]
    model.train(was_training)
    rows = torch.cat(new, dim=1).tolist() if new else [[] for _ in prompts]  # (B, new)
    if stop_token is not None:
        rows = [row[:row.index(stop_token) + 1] if stop_token in row else row for row in rows]
    return rows

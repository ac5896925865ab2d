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

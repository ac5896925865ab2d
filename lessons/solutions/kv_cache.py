"""Exercise 5 (lesson 05): one step of cached decoding.

Reference solution. Students get lessons/exercises/kv_cache.py, the same file with a hint instead of the body.
"""


def cached_step(model, cache, n_cached, new_ids):
    """Run only the new tokens through `model` (a minigpt GPT), reusing the keys/values already computed.

    model:    a minigpt GPT
    cache:    None, or per layer (k, v), each (B, H, P + n_cached, D): keys/values of everything before new_ids
              (P extra slots such as a learned prefix, then the n_cached real tokens)
    n_cached: how many REAL tokens the cache holds (prefix slots do not count: they have no position)
    new_ids:  (B, T_new) token ids that follow the cached tokens
    Returns (logits, new_cache): logits (B, T_new, V) for the new tokens, and the cache extended by them,
    per layer (k, v) each (B, H, P + n_cached + T_new, D). The result must equal running the whole text at once.
    """
    out = model(new_ids, slots=cache, pos_offset=n_cached)  # new tokens sit at positions n_cached, n_cached+1, ...
    return out.logits, out.kv  # kv: the cached keys/values followed by the new ones, ready for the next step

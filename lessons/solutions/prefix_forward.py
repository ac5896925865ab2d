"""Exercise 6 (lesson 06): the prefix module's forward, from the MLP's output matrix to per-layer keys/values.

Reference solution. Students get lessons/exercises/prefix_forward.py, the same file with a hint instead of the body.
"""


def matrix_to_slots(matrix, config, batch_size):
    """(P, n_layer·2·n_embd) matrix -> list of n_layer pairs (k, v), each (B, H, P, D), B = batch_size.

    Row p of the matrix holds prefix position p for every layer: layer 0's key, layer 0's value, layer 1's key, ...
    each of n_embd = H·D numbers, head 0's D numbers first. config has n_layer, n_head and head_dim.
    The batch dimension repeats the same prefix for every row (no copy needed), and gradients must
    flow back to `matrix`.
    """
    P = matrix.size(0)
    L, H, D = config.n_layer, config.n_head, config.head_dim
    kv = matrix.view(P, L, 2, H, D).permute(1, 2, 3, 0, 4)  # name each axis, then put P between H and D
    return [(kv[l, 0].expand(batch_size, H, P, D), kv[l, 1].expand(batch_size, H, P, D)) for l in range(L)]

"""Exercise 6 (lesson 06): the prefix module's forward, from the MLP's output matrix to per-layer keys/values.

Fill in the body, then check it:  python -m pytest tests/exercises --exercises lessons/exercises/prefix_forward.py
"""


def matrix_to_slots(matrix, config, batch_size):
    """(P, n_layer·2·n_embd) matrix -> list of n_layer pairs (k, v), each (B, H, P, D), B = batch_size.

    Row p of the matrix holds prefix position p for every layer: layer 0's key, layer 0's value, layer 1's key, ...
    each of n_embd = H·D numbers, head 0's D numbers first. config has n_layer, n_head and head_dim.
    The batch dimension repeats the same prefix for every row (no copy needed), and gradients must
    flow back to `matrix`.
    """
    raise NotImplementedError(
        "matrix_to_slots: lesson 06 puts these slots in front of the frozen model. Key steps: give every "
        "axis hidden in a matrix row its own dimension (read the docstring's layout from the outside in), "
        "reorder the dimensions so each layer's key and value come out as (H, P, D), then add the batch "
        "dimension; .expand does it without a copy.")

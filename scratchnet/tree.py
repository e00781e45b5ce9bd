"""Nested tuples of arrays, as modules with several outputs return them (an RNN's ``(output, h_n)``)."""


def flatten(value):
    """The arrays of a nested tuple/list, depth first; a lone array gives ``[value]``."""
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in flatten(item)]
    return [value]


def unflatten(leaves, like):
    """Rebuild ``leaves`` into the nested tuple structure of ``like``."""
    leaves = iter(leaves)

    def build(node):
        return tuple(build(item) for item in node) if isinstance(node, (tuple, list)) else next(leaves)

    return build(like)

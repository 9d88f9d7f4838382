"""ListOps: nested list operations, the Long-Range-Arena sequence-classification task.

A ListOps sample is a prefix expression over the digits 0 - 9 with the
operators MIN, MAX, MED (median, truncated to an int) and SM (sum modulo 10),
for example ``[MAX 2 9 [MIN 4 7 ] 0 ]`` (value 9); the label is its value
(10 classes).  The generator follows the published specification (Nangia &
Bowman 2018 [1]_) with the settings of the Long Range Arena (Tay et al.
2021 [2]_, :data:`LRA_LISTOPS`): a node is a leaf (a uniform digit) with probability
0.75 and always at the maximum depth, otherwise a uniform operator with a
uniform number of 2 .. ``max_args`` children; a tree is kept only if its
length (tokens: operators, digits and closing brackets) lies strictly between
``min_length`` and ``max_length``.  :data:`CPU_LISTOPS` is a smaller preset
(ours) for training on a CPU in minutes.

The token sequences carry no parentheses: the string form of LRA's files
wraps every argument in ``( ... )``, which the usual LRA data pipelines strip
again (the bracket structure is already given by the operators and ``]``).

References
----------
.. [1] N. Nangia and S. R. Bowman, "ListOps: A diagnostic dataset for latent
   tree learning", NAACL Student Research Workshop 2018.
.. [2] Y. Tay et al., "Long Range Arena: A benchmark for efficient
   transformers", ICLR 2021.
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ._random import as_generator

__all__ = ["CPU_LISTOPS", "LRA_LISTOPS", "OPERATORS", "VOCABULARY", "decode_listops", "make_listops"]

#: Operators of LRA's ListOps.
OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
#: Token strings by id: 0 pads, 1 - 10 are the digits 0 - 9, then the operators and ``]``.
VOCABULARY = ("<pad>", *map(str, range(10)), *OPERATORS, "]")
#: Probability that a node above the maximum depth becomes an operator
#: (LRA's ``VALUE_P = 0.25``: a leaf with probability 0.75).
OPERATOR_PROBABILITY = 0.25
#: The Long Range Arena's settings (Tay et al. 2021).
LRA_LISTOPS = {"max_depth": 10, "max_args": 10, "min_length": 500, "max_length": 2000}
#: A CPU-sized preset (ours): trees of depth at most 6 with at most 5
#: arguments, 51 - 199 tokens.
CPU_LISTOPS = {"max_depth": 6, "max_args": 5, "min_length": 50, "max_length": 200}

_DIGIT_IDS = np.arange(1, 11)
_OPERATOR_IDS = np.arange(11, 11 + len(OPERATORS))
_END_ID = len(VOCABULARY) - 1
# Uniform numbers drawn per refill of the generator's buffer.
_BUFFER = 1 << 16


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2  # int(np.median) of non-negative ints


_APPLY = (min, max, _median, lambda values: sum(values) % 10)


class _TreeSampler:
    """Draws ListOps trees from one Generator, reading uniforms from a buffer."""

    def __init__(self, rng, max_depth, max_args):
        self.rng, self.max_depth, self.max_args = rng, max_depth, max_args
        self.buffer, self.position = rng.random(_BUFFER), 0

    def uniform(self):
        if self.position == _BUFFER:
            self.buffer, self.position = self.rng.random(_BUFFER), 0
        self.position += 1
        return self.buffer[self.position - 1]

    def operator(self, depth, tokens):
        """An operator node at ``depth``: appends its tokens, returns its value."""
        n_args = 2 + int(self.uniform() * (self.max_args - 1))
        op = int(self.uniform() * len(OPERATORS))
        tokens.append(11 + op)
        values = [self.node(depth + 1, tokens) for _ in range(n_args)]
        tokens.append(_END_ID)
        return _APPLY[op](values)

    def node(self, depth, tokens):
        if depth < self.max_depth and self.uniform() < OPERATOR_PROBABILITY:
            return self.operator(depth, tokens)
        value = int(self.uniform() * 10)
        tokens.append(1 + value)
        return value


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 2, None, closed="left")],
        "max_args": [Interval(Integral, 2, None, closed="left")],
        "min_length": [Interval(Integral, 1, None, closed="left")],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_listops(n_samples, *, max_depth=6, max_args=5, min_length=50, max_length=200, random_state=None):
    """Generate ListOps samples: token sequences and their values.

    Trees are drawn as in the published generator (see the module) and kept
    when ``min_length < length < max_length``.  Since ``min_length >= 1``
    rejects every single-leaf tree, the root is drawn as an operator directly
    (the same distribution of kept trees, four times fewer draws).

    Parameters
    ----------
    n_samples : int
        Number of samples.
    max_depth : int, default=6
        Maximum depth of a tree (the root has depth 1); nodes at this depth
        are leaves.  LRA: 10.
    max_args : int, default=5
        Maximum number of arguments of an operator (at least 2).  LRA: 10.
    min_length, max_length : int, default=50, 200
        Kept trees have strictly more than ``min_length`` and strictly fewer
        than ``max_length`` tokens.  LRA: 500, 2000.
    random_state : int, RandomState instance or None, default=None
        Seeds the generator; the same seed gives the same samples.

    Returns
    -------
    X : ndarray of int16 of shape (n_samples, L)
        Token ids (:data:`VOCABULARY`), left-aligned, padded with 0 up to the
        longest sample ``L``.
    y : ndarray of int64 of shape (n_samples,)
        The value of each expression, 0 - 9.

    Examples
    --------
    >>> from sklearn_aimc.listops import decode_listops, make_listops
    >>> X, y = make_listops(3, max_depth=3, max_args=3, min_length=4, max_length=12, random_state=0)
    >>> X.shape[0], y.shape
    (3, (3,))
    >>> decode_listops(X[0])  # doctest: +SKIP
    '[MAX 2 [SM 4 9 ] ]'
    """
    if max_length <= min_length + 1:
        raise ValueError(
            f"No length lies strictly between min_length={min_length} and max_length={max_length}."
        )
    full_tree_leaves = max_args ** (max_depth - 1)
    longest = 2 * (full_tree_leaves - 1) // (max_args - 1) + full_tree_leaves
    if longest <= min_length:
        raise ValueError(
            f"Trees of max_depth={max_depth} and max_args={max_args} have at most {longest} tokens, "
            f"never more than min_length={min_length}."
        )
    sampler = _TreeSampler(as_generator(check_random_state(random_state)), max_depth, max_args)
    sequences, labels = [], []
    while len(sequences) < n_samples:
        tokens = []
        value = sampler.operator(1, tokens)
        if min_length < len(tokens) < max_length:
            sequences.append(tokens)
            labels.append(value)
    X = np.zeros((n_samples, max(map(len, sequences))), dtype=np.int16)
    for row, tokens in zip(X, sequences):
        row[: len(tokens)] = tokens
    return X, np.array(labels, dtype=np.int64)


def decode_listops(tokens):
    """The expression of a row of token ids, as a string (padding dropped).

    Parameters
    ----------
    tokens : array-like of int
        One row of :func:`make_listops`'s ``X``.

    Returns
    -------
    expression : str

    Examples
    --------
    >>> from sklearn_aimc.listops import decode_listops
    >>> decode_listops([12, 3, 10, 15, 0, 0])
    '[MAX 2 9 ]'
    """
    return " ".join(VOCABULARY[int(token)] for token in np.asarray(tokens) if token != 0)

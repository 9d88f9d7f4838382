"""Tests of the ListOps generator (sklearn_aimc.listops).

Labels are checked by an independent stack evaluator of the token strings;
the tree distribution against the generator's specification (Nangia & Bowman
2018, LRA settings) with binomial / uniform tolerances of four standard
errors.
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_aimc.listops import CPU_LISTOPS, LRA_LISTOPS, OPERATORS, VOCABULARY, decode_listops, make_listops

_OPS = {
    "[MIN": min,
    "[MAX": max,
    "[MED": lambda values: int(np.median(values)),
    "[SM": lambda values: sum(values) % 10,
}


def _evaluate(expression):
    stack = []
    for token in expression.split():
        if token in _OPS:
            stack.append([token])
        elif token == "]":
            op, *values = stack.pop()
            value = _OPS[op](values)
            if not stack:
                return value
            stack[-1].append(value)
        else:
            if not stack:
                return int(token)
            stack[-1].append(int(token))
    raise AssertionError(f"unbalanced expression {expression!r}")


def _nodes(expression):
    """(depth, kind, n_children) of every node; the root has depth 1."""
    nodes, stack = [], []
    for token in expression.split():
        depth = len(stack) + 1
        if token in _OPS:
            nodes.append([depth, token, 0])
            if stack:
                stack[-1][2] += 1
            stack.append(nodes[-1])
        elif token == "]":
            stack.pop()
        else:
            nodes.append([depth, "leaf", 0])
            stack[-1][2] += 1
    return nodes


def test_shapes_lengths_and_labels():
    X, y = make_listops(300, random_state=0)
    assert X.dtype == np.int16 and y.dtype == np.int64
    assert X.shape[0] == y.shape[0] == 300
    lengths = (X != 0).sum(axis=1)
    assert lengths.min() > 50 and lengths.max() < 200 and X.shape[1] == lengths.max()
    for row, label, length in zip(X, y, lengths):
        assert np.all(row[:length] != 0) and np.all(row[length:] == 0)  # left-aligned
        assert _evaluate(decode_listops(row)) == label


def test_deterministic_from_random_state():
    X1, y1 = make_listops(50, random_state=3)
    X2, y2 = make_listops(50, random_state=3)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    X3, _ = make_listops(50, random_state=4)
    assert X3.shape != X1.shape or not np.array_equal(X1, X3)
    # Fewer samples of the same seed are a prefix (samples are drawn in turn).
    X4, y4 = make_listops(20, random_state=3)
    assert_array_equal(X4, X1[:20, : X4.shape[1]])
    assert_array_equal(y4, y1[:20])


def test_tree_distribution_follows_the_specification():
    # min_length=1 keeps every tree with an operator root: the nodes below
    # the root are then drawn without any selection.
    max_depth, max_args = 4, 5
    X, _ = make_listops(3000, max_depth=max_depth, max_args=max_args, min_length=1, max_length=10**6,
                        random_state=0)
    nodes = [node for row in X for node in _nodes(decode_listops(row))]
    assert max(depth for depth, _, _ in nodes) == max_depth
    assert all(kind == "leaf" for depth, kind, _ in nodes if depth == max_depth)
    below_root = [kind != "leaf" for depth, kind, _ in nodes if 1 < depth < max_depth]
    share, n = np.mean(below_root), len(below_root)
    assert abs(share - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)  # operator with probability 0.25
    operators = [node for node in nodes if node[1] != "leaf"]
    children = np.array([n_children for _, _, n_children in operators])
    assert children.min() == 2 and children.max() == max_args
    uniform = np.arange(2, max_args + 1)
    assert abs(children.mean() - uniform.mean()) < 4 * uniform.std() / np.sqrt(len(children))
    counts = np.array([sum(kind == op for _, kind, _ in operators) for op in OPERATORS])
    expected = len(operators) / len(OPERATORS)
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected * (1 - 1 / len(OPERATORS))))
    leaves = [token for row in X for token in decode_listops(row).split() if token.isdigit()]
    digit_counts = np.bincount(np.array(leaves, dtype=int), minlength=10)
    assert np.all(np.abs(digit_counts - len(leaves) / 10) < 4 * np.sqrt(len(leaves) * 0.09))


def test_presets_and_vocabulary():
    assert LRA_LISTOPS == {"max_depth": 10, "max_args": 10, "min_length": 500, "max_length": 2000}
    assert CPU_LISTOPS == {"max_depth": 6, "max_args": 5, "min_length": 50, "max_length": 200}
    assert VOCABULARY[0] == "<pad>" and VOCABULARY[1:11] == tuple("0123456789") and VOCABULARY[-1] == "]"
    X, y = make_listops(5, **LRA_LISTOPS, random_state=0)
    lengths = (X != 0).sum(axis=1)
    assert lengths.min() > 500 and lengths.max() < 2000
    assert [_evaluate(decode_listops(row)) for row in X] == y.tolist()


def test_decode():
    assert decode_listops([12, 3, 10, 15, 0, 0]) == "[MAX 2 9 ]"
    assert decode_listops(np.array([11, 1, 14, 5, 6, 15, 15])) == "[MIN 0 [SM 4 5 ] ]"


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"n_samples": 0}, InvalidParameterError, "n_samples"),
        ({"max_args": 1}, InvalidParameterError, "max_args"),
        ({"max_depth": 1}, InvalidParameterError, "max_depth"),
        ({"min_length": 0}, InvalidParameterError, "min_length"),
        ({"min_length": 10, "max_length": 11}, ValueError, "strictly between"),
        ({"max_depth": 2, "max_args": 3, "min_length": 5}, ValueError, "at most 5 tokens"),
    ],
)
def test_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        make_listops(**{"n_samples": 5, **params})


def test_docstring_examples():
    import doctest

    from sklearn_aimc import listops

    failures, attempts = doctest.testmod(listops, optionflags=doctest.ELLIPSIS)
    assert attempts >= 2 and failures == 0

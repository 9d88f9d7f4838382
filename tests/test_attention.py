"""Tests of kernelized attention (sklearn_aimc.attention).

The reference formulas are written out here from their definitions
(``/work/shared/reference/kernel-approximation.md``: FAVOR+ features
``phi(x) = exp(-||x||^2 / 2) [exp(W x), exp(-W x)] / sqrt(2 s)`` of inputs
pre-scaled by ``d^(-1/4)``, ``A_hat = D^-1 Q' (K'^T V)``,
``D = diag(Q' (K'^T 1))``), never by calling the package's own code paths.
On the ideal device the package computes the same quantities in another order
(stabilised logarithms, reassociated products), so they agree to rounding.
"""

import gc
import pickle
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sklearn_aimc import AnalogCrossbar, AnalogKernelAttention
from sklearn_aimc.attention import RELU_STABILIZER, softmax_attention

SAMPLINGS = ["rff", "orf", "sorf"]


def _qkv(batch=(), n_queries=40, n_keys=40, d=8, d_v=5, seed=0, scale=0.7):
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((*batch, n_queries, d)) * scale
    K = rng.standard_normal((*batch, n_keys, d)) * scale
    V = rng.standard_normal((*batch, n_keys, d_v))
    return Q, K, V


def _fitted(Q, K, **params):
    params = {"n_components": 32, "device": "ideal", "random_state": 0, **params}
    d = Q.shape[-1]
    return AnalogKernelAttention(**params).fit(np.vstack([Q.reshape(-1, d), K.reshape(-1, d)]))


def _favor_features(X, W):
    """FAVOR+ features of the reference formula, inputs pre-scaled by d^(-1/4)."""
    X = X / X.shape[-1] ** 0.25
    projection = X @ W
    half_norm = 0.5 * np.sum(X**2, axis=-1, keepdims=True)
    s = W.shape[1]
    return np.concatenate([np.exp(projection - half_norm), np.exp(-projection - half_norm)], axis=-1) / np.sqrt(2 * s)


def _relu_features(X, W):
    X = X / X.shape[-1] ** 0.25
    return np.maximum(X @ W, 0) / np.sqrt(W.shape[1]) + RELU_STABILIZER


def _quadratic_linear_attention(Q_features, K_features, V, mask=None, causal=False):
    """The same linear attention computed the quadratic way: scores, masks, row sums."""
    scores = Q_features @ np.swapaxes(K_features, -1, -2)
    if mask is not None:
        scores = scores * mask[..., None, :]
    if causal:
        scores = np.tril(scores)
    return (scores @ V) / scores.sum(axis=-1, keepdims=True)


def _naive_softmax_attention(Q, K, V, mask=None, causal=False):
    logits = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        logits = np.where(mask[..., None, :], logits, -np.inf)
    if causal:
        logits = np.where(np.tri(logits.shape[-2], logits.shape[-1], dtype=bool), logits, -np.inf)
    return softmax(logits, axis=-1) @ V


# ---------------------------------------------------------------------------
# softmax_attention
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
@pytest.mark.parametrize("causal", [False, True])
def test_softmax_attention_matches_definition(batch, causal):
    Q, K, V = _qkv(batch)
    rng = np.random.default_rng(1)
    mask = rng.random((*batch, 40)) < 0.7
    mask[..., 0] = True
    for m in (None, mask):
        assert_allclose(softmax_attention(Q, K, V, mask=m, causal=causal),
                        _naive_softmax_attention(Q, K, V, m, causal), rtol=1e-12, atol=1e-14)


def test_softmax_attention_blocks_queries(monkeypatch):
    # Query blocks of 7 rows give the result of one block.
    import sklearn_aimc.attention as attention

    Q, K, V = _qkv((2,), n_queries=30, n_keys=20)
    whole = softmax_attention(Q, K, V, causal=False)
    monkeypatch.setattr(attention, "_SOFTMAX_BLOCK_ELEMENTS", 2 * 20 * 7)
    assert_allclose(softmax_attention(Q, K, V), whole, rtol=1e-12, atol=1e-14)
    Q, K, V = _qkv((2,), n_queries=30, n_keys=30)
    monkeypatch.undo()
    whole = softmax_attention(Q, K, V, causal=True)
    monkeypatch.setattr(attention, "_SOFTMAX_BLOCK_ELEMENTS", 2 * 30 * 7)
    assert_allclose(softmax_attention(Q, K, V, causal=True), whole, rtol=1e-12, atol=1e-14)


def test_softmax_attention_is_stable_for_large_logits():
    # Logits of several thousands overflow exp without the max subtraction.
    Q, K, V = _qkv(scale=40.0)
    A = softmax_attention(Q, K, V)
    assert np.all(np.isfinite(A))
    logits = Q @ K.T / np.sqrt(8)
    assert_allclose(A, V[np.argmax(logits, axis=1)], atol=1e-6)  # the softmax is one-hot here


# ---------------------------------------------------------------------------
# The ideal path against the FAVOR+ formula
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("batch", [(), (2, 3)])
def test_ideal_favor_plus_is_the_formula(sampling, causal, batch):
    # 150 positions: the causal prefix sums cross two chunk boundaries.
    Q, K, V = _qkv(batch, n_queries=150, n_keys=150)
    attention = _fitted(Q, K, sampling=sampling, causal=causal)
    W = attention.feature_map_.random_weights_
    expected = _quadratic_linear_attention(_favor_features(Q, W), _favor_features(K, W), V, causal=causal)
    assert_allclose(attention.attend(Q, K, V), expected, rtol=1e-10)


@pytest.mark.parametrize("causal", [False, True])
def test_ideal_relu_is_the_formula(causal):
    Q, K, V = _qkv((2,), n_queries=100, n_keys=100)
    attention = _fitted(Q, K, feature_map="relu", causal=causal)
    W = attention.feature_map_.random_weights_
    expected = _quadratic_linear_attention(_relu_features(Q, W), _relu_features(K, W), V, causal=causal)
    assert_allclose(attention.attend(Q, K, V), expected, rtol=1e-10)


def test_non_causal_allows_different_lengths():
    Q, K, V = _qkv((2,), n_queries=7, n_keys=31)
    attention = _fitted(Q, K)
    W = attention.feature_map_.random_weights_
    expected = _quadratic_linear_attention(_favor_features(Q, W), _favor_features(K, W), V)
    assert attention.attend(Q, K, V).shape == (2, 7, 5)
    assert_allclose(attention.attend(Q, K, V), expected, rtol=1e-10)


def test_favor_plus_is_stable_for_large_inputs():
    # Exponents of about +-900 overflow float64 without the stabilisers; the
    # reference is the same formula in extended precision (80-bit long double).
    if np.finfo(np.longdouble).maxexp <= np.finfo(np.float64).maxexp:
        pytest.skip("long double is float64 on this platform")
    Q, K, V = _qkv(n_queries=30, n_keys=30, scale=20.0)
    attention = _fitted(Q, K, n_components=16)
    W = attention.feature_map_.random_weights_
    with np.errstate(over="raise"):
        A_hat = attention.attend(Q, K, V)
    assert np.all(np.isfinite(A_hat))
    expected = _quadratic_linear_attention(
        _favor_features(Q.astype(np.longdouble), W.astype(np.longdouble)),
        _favor_features(K.astype(np.longdouble), W.astype(np.longdouble)),
        V.astype(np.longdouble),
    )
    assert_allclose(A_hat, expected.astype(np.float64), rtol=1e-9, atol=1e-12)


def test_favor_plus_approximates_softmax_attention():
    # Softmax attention of moderate logits (pre-scaled inputs of norm ~ 0.5):
    # the FAVOR+ estimate's relative error falls like s^(-1/2); at s = 2048 it
    # is about 0.012 for these inputs (projection seeds 0 - 4: 0.011 - 0.014),
    # so 0.03 is twice the largest observed, and what s = 2048 / 6 would give.
    Q, K, V = _qkv(n_queries=60, n_keys=60, d=16, scale=0.35)
    A = softmax_attention(Q, K, V)
    attention = _fitted(Q, K, n_components=2048)
    error = np.linalg.norm(attention.attend(Q, K, V) - A) / np.linalg.norm(A)
    assert error < 0.03


# ---------------------------------------------------------------------------
# Masks and causality
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("feature_map", ["favor+", "relu"])
def test_padding_mask_equals_removing_keys(feature_map):
    Q, K, V = _qkv((2,), n_queries=20, n_keys=30)
    attention = _fitted(Q, K, feature_map=feature_map)
    mask = np.ones((2, 30), dtype=bool)
    mask[0, 25:] = False
    mask[1, 10:] = False
    A = attention.attend(Q, K, V, mask=mask)
    for b, n_kept in ((0, 25), (1, 10)):
        assert_allclose(A[b], attention.attend(Q[b], K[b, :n_kept], V[b, :n_kept]), rtol=1e-12)
    # Whatever the padded keys and values hold (here: huge), the output stays.
    K_padded, V_padded = K.copy(), V.copy()
    K_padded[~mask] = 1e3
    V_padded[~mask] = -1e6
    assert_allclose(attention.attend(Q, K_padded, V_padded, mask=mask), A, rtol=1e-12)
    assert_allclose(softmax_attention(Q, K_padded, V_padded, mask=mask), softmax_attention(Q, K, V, mask=mask),
                    rtol=1e-12)


def test_all_true_mask_is_no_mask():
    Q, K, V = _qkv((2,))
    attention = _fitted(Q, K, causal=True)
    assert_allclose(attention.attend(Q, K, V, mask=np.ones((2, 40), dtype=bool)), attention.attend(Q, K, V),
                    rtol=1e-13)


@pytest.mark.parametrize("feature_map", ["favor+", "relu"])
def test_causal_output_depends_only_on_earlier_keys(feature_map):
    # On the ideal device.  On the chip, the output noise of a row depends on
    # the rows read in the same block, so changing later keys changes the
    # reads of earlier ones: its causality is checked below on fixed reads.
    Q, K, V = _qkv(n_queries=150, n_keys=150)
    attention = _fitted(Q, K, feature_map=feature_map, causal=True)
    A = attention.attend(Q, K, V)
    for i in (0, 63, 64, 100):  # within and across the chunks of 64 positions
        K_later, V_later = K.copy(), V.copy()
        K_later[i + 1:] = np.random.default_rng(i).standard_normal(K[i + 1:].shape)
        V_later[i + 1:] += 5.0
        # Later keys enter only through the key stabiliser, which cancels
        # exactly: the earlier outputs agree to rounding.
        assert_allclose(attention.attend(Q, K_later, V_later)[: i + 1], A[: i + 1], rtol=1e-11, atol=1e-13)
        assert not np.allclose(attention.attend(Q, K_later, V_later)[i + 1:], A[i + 1:])


@pytest.mark.parametrize("feature_map", ["favor+", "relu"])
def test_causal_hermes_equals_quadratic_masked_computation(feature_map):
    # The chunked prefix sums give the quadratic, lower-triangular computation
    # of the same linear attention on the same chip reads (the same input
    # rows are read again: same features).
    Q, K, V = _qkv((2,), n_queries=150, n_keys=150)
    attention = _fitted(Q, K, device="hermes", feature_map=feature_map, causal=True)
    mask = np.ones((2, 150), dtype=bool)
    mask[1, 120:] = False
    A = attention.attend(Q, K, V, mask=mask)
    rows = np.vstack([Q.reshape(-1, 8), K.reshape(-1, 8)]) * 8**-0.25
    if feature_map == "favor+":
        features = np.exp(attention.feature_map_.log_transform(rows))
    else:
        features = attention.feature_map_.transform(rows) / np.sqrt(2) + RELU_STABILIZER
    Q_features, K_features = features[:300].reshape(2, 150, -1), features[300:].reshape(2, 150, -1)
    expected = _quadratic_linear_attention(Q_features, K_features, V, mask=mask, causal=True)
    assert_allclose(A, expected, rtol=1e-9)


# ---------------------------------------------------------------------------
# The chip
# ---------------------------------------------------------------------------


def test_hermes_reads_each_query_and_key_once():
    Q, K, V = _qkv((2, 3), n_queries=40, n_keys=25)
    attention = _fitted(Q, K, device="hermes")
    attention.crossbar_.counters.reset()
    attention.attend(Q, K, V)
    assert attention.crossbar_.counters.input_vectors == 6 * (40 + 25)


def test_hermes_attention_is_reproducible_and_differs_from_ideal():
    Q, K, V = _qkv((2,))
    hermes = _fitted(Q, K, device="hermes")
    A = hermes.attend(Q, K, V)
    assert_array_equal(hermes.attend(Q, K, V), A)
    assert_array_equal(pickle.loads(pickle.dumps(hermes)).attend(Q, K, V), A)
    assert_array_equal(_fitted(Q, K, device="hermes").attend(Q, K, V), A)
    ideal = _fitted(Q, K, device="ideal").attend(Q, K, V)
    assert not np.allclose(A, ideal, rtol=1e-6)
    # The chip perturbs the estimate, it does not replace it: on these small
    # random heads (d = 8, 32 projections, outputs near zero since attention
    # averages random values) the HERMES output differs from the float one by
    # 0.11 - 0.42 of its norm (seeds 0 - 4; 0.20 for seed 0), far from the
    # 1.16 between outputs of unrelated values.
    assert np.linalg.norm(A - ideal) / np.linalg.norm(ideal) < 0.6


def test_t_inference_reads_the_same_chip_later():
    Q, K, V = _qkv()
    attention = _fitted(Q, K, device=AnalogCrossbar())
    A = attention.attend(Q, K, V)
    attention.set_params(device__t_inference=86400.0 * 30)
    A_later = attention.attend(Q, K, V)
    assert not np.allclose(A, A_later)
    attention.set_params(device__t_inference=3600.0)
    assert_array_equal(attention.attend(Q, K, V), A)
    attention.set_params(device__adc_bits=6)
    with pytest.raises(ValueError, match="changed since fit"):
        attention.attend(Q, K, V)


@pytest.mark.parametrize("device", ["ideal", "hermes"])
def test_float32_stays_float32(device):
    Q, K, V = (a.astype(np.float32) for a in _qkv((2,)))
    attention = _fitted(Q, K, device=device)
    A = attention.attend(Q, K, V)
    assert A.dtype == np.float32
    assert attention.attend(Q, K, V.astype(np.float64)).dtype == np.float64
    assert softmax_attention(Q, K, V).dtype == np.float32
    assert_allclose(A, attention.attend(*(a.astype(np.float64) for a in (Q, K, V))), rtol=2e-3, atol=1e-5)


def test_inputs_are_not_mutated():
    Q, K, V = _qkv((2,))
    mask = np.ones((2, 40), dtype=bool)
    mask[0, 30:] = False
    copies = [a.copy() for a in (Q, K, V, mask)]
    for feature_map in ("favor+", "relu"):
        _fitted(Q, K, feature_map=feature_map, causal=True).attend(Q, K, V, mask=mask)
    softmax_attention(Q, K, V, mask=mask, causal=True)
    for original, copy in zip((Q, K, V, mask), copies):
        assert_array_equal(original, copy)


# ---------------------------------------------------------------------------
# Linear scaling, by operation and memory counts
# ---------------------------------------------------------------------------


def _peak_bytes(function):
    function()  # warm up: caches of the programmed chip
    gc.collect()
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("device", ["ideal", "hermes"])
@pytest.mark.parametrize("causal", [False, True])
def test_memory_and_reads_are_linear_in_length(device, causal):
    # numpy reports its allocations to tracemalloc.  The intermediates of
    # attend are O(L (d + m + d_v)): 4x the length costs about 4x the memory
    # (observed 3.2x - 4.0x), while the score matrix of a quadratic method
    # alone would be L^2 floats (134 MB at L = 4096, 16x that of L = 1024).
    rng = np.random.default_rng(0)
    attention = AnalogKernelAttention(16, device=device, causal=causal, random_state=0)
    attention.fit(rng.standard_normal((500, 16)))
    peaks, reads = [], []
    for length in (1024, 4096):
        Q, K, V = rng.standard_normal((3, length, 16))
        attention.crossbar_.counters.reset()
        peaks.append(_peak_bytes(lambda: attention.attend(Q, K, V)))
        reads.append(attention.crossbar_.counters.input_vectors)
    assert reads == [2 * 2 * 1024, 2 * 2 * 4096]  # warm-up and measured call, queries and keys
    assert peaks[1] < 4.5 * peaks[0]
    assert peaks[1] < 4096**2 * 8 / 8


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def test_attend_before_fit():
    Q, K, V = _qkv()
    with pytest.raises(NotFittedError):
        AnalogKernelAttention().attend(Q, K, V)


@pytest.mark.parametrize(
    "shapes, match",
    [
        (((40, 8), (40, 6), (40, 5)), "same head dimension"),
        (((40, 8), (40, 8), (39, 5)), "same number of keys"),
        (((2, 40, 8), (3, 40, 8), (3, 40, 5)), "same batch shape"),
        (((2, 40, 8), (2, 40, 8), (40, 5)), "same number of dimensions"),
        (((0, 8), (40, 8), (40, 5)), "must not be empty|minimum of 1"),
    ],
)
@pytest.mark.parametrize("function", ["softmax", "kernel"])
def test_shape_mismatch(shapes, match, function):
    rng = np.random.default_rng(0)
    Q, K, V = (rng.standard_normal(shape) for shape in shapes)
    attend = softmax_attention if function == "softmax" else _fitted(*_qkv()[:2]).attend
    with pytest.raises(ValueError, match=match):
        attend(Q, K, V)


def test_head_dimension_must_match_fit():
    Q, K, V = _qkv(d=8)
    attention = _fitted(*_qkv(d=6)[:2])
    with pytest.raises(ValueError, match="fitted with 6 features"):
        attention.attend(Q, K, V)


def test_causal_needs_equal_lengths():
    Q, K, V = _qkv(n_queries=10, n_keys=40)
    with pytest.raises(ValueError, match="as many queries as keys"):
        softmax_attention(Q, K, V, causal=True)
    with pytest.raises(ValueError, match="as many queries as keys"):
        _fitted(Q, K, causal=True).attend(Q, K, V)


@pytest.mark.parametrize("name", ["Q", "K", "V"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_inputs(name, value):
    arrays = dict(zip("QKV", _qkv()))
    attention = _fitted(arrays["Q"], arrays["K"])
    arrays[name] = arrays[name].copy()
    arrays[name][3, 1] = value
    for attend in (softmax_attention, attention.attend):
        with pytest.raises(ValueError, match=f"Input {name} contains (NaN|infinity)"):
            attend(arrays["Q"], arrays["K"], arrays["V"])


def test_bad_masks():
    Q, K, V = _qkv((2,))
    attention = _fitted(Q, K)
    causal = _fitted(Q, K, causal=True)
    good = np.ones((2, 40), dtype=bool)
    with pytest.raises(ValueError, match=r"mask must have the shape \(\.\.\., L_k\) = \(2, 40\)"):
        attention.attend(Q, K, V, mask=good[:, :39])
    with pytest.raises(ValueError, match="mask must have the shape"):
        softmax_attention(Q, K, V, mask=good[:, None, :])  # (2, 1, 40) does not broadcast to (2, 40)
    Q3, K3, V3 = _qkv((2, 3))
    mask3 = np.ones((2, 1, 40), dtype=bool)
    mask3[1, 0, 30:] = False  # every head of sequence 1
    assert_allclose(softmax_attention(Q3, K3, V3, mask=mask3),
                    softmax_attention(Q3, K3, V3, mask=np.broadcast_to(mask3, (2, 3, 40))))
    with pytest.raises(ValueError, match="mask must have the shape"):
        softmax_attention(Q3, K3, V3, mask=np.ones((2, 40), dtype=bool))
    with pytest.raises(ValueError, match="mask must have the shape"):
        softmax_attention(Q3, K3, V3, mask=np.ones((2, 3, 1), dtype=bool))
    with pytest.raises(TypeError, match="mask must be a boolean array"):
        attention.attend(Q, K, V, mask=good.astype(int))
    empty = good.copy()
    empty[1] = False
    with pytest.raises(ValueError, match="every key of a sequence is masked"):
        attention.attend(Q, K, V, mask=empty)
    left_padded = good.copy()
    left_padded[0, :3] = False
    attention.attend(Q, K, V, mask=left_padded)  # fine without causality
    with pytest.raises(ValueError, match="first key of every sequence must be kept"):
        causal.attend(Q, K, V, mask=left_padded)
    with pytest.raises(ValueError, match="first key of every sequence must be kept"):
        softmax_attention(Q, K, V, mask=left_padded, causal=True)


def test_fit_rejects_non_finite_and_wrong_shapes():
    attention = AnalogKernelAttention(device="ideal")
    with pytest.raises(ValueError, match="NaN"):
        attention.fit(np.full((5, 4), np.nan))
    with pytest.raises(ValueError, match="2D array"):
        attention.fit(np.ones(4))


def test_clone_and_params():
    attention = AnalogKernelAttention(64, feature_map="relu", sampling="sorf", causal=True, random_state=3)
    assert clone(attention).get_params() == attention.get_params()
    with pytest.raises(ValueError, match="feature_map"):
        AnalogKernelAttention(feature_map="cos").fit(np.ones((3, 4)))


def test_docstring_examples():
    import doctest

    from sklearn_aimc import attention

    failures, attempts = doctest.testmod(attention)
    assert attempts >= 2 and failures == 0

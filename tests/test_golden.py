"""Golden values: small fixed-seed chips whose outputs are committed, bit for bit.

Any change to a random stream (the seed tree, a stream key, the order of
draws, the Gaussian sampler, the row hash) or to the arithmetic of a read
changes these outputs and fails here, loudly.  Such a change must be
deliberate: regenerate the file, say why in the commit, and re-run the
committed studies whose figures depend on the streams::

    python tests/test_golden.py --regenerate

The values are stored as exact hexadecimal floats in ``tests/golden/reads.json``.
The compiled and the numpy read-outs must both reproduce them (CI runs the
crossbar tests once more with ``SKLEARN_AIMC_COMPILED=0``).
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_aimc import (
    AnalogArcCosineFeatures,
    AnalogCrossbar,
    AnalogRandomFourierFeatures,
    AnalogRidgeClassifier,
    GenericPCM,
    HermesPCM,
)

GOLDEN = Path(__file__).parent / "golden" / "reads.json"
HOUR, DAY = 3600.0, 86_400.0


def _data(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


def _chip(seed=0, n_inputs=20, n_outputs=12, **params):
    W, X = _data(seed, (n_inputs, n_outputs)), _data(seed + 1, (40, n_inputs))
    return AnalogCrossbar(**params).program(W, calibration_inputs=X, random_state=seed), X[:6]


def hermes():
    chip, X = _chip()
    return chip.matmul(X)


def hermes_float32_day_read_index():
    chip, X = _chip(seed=2)
    return chip.matmul(X.astype(np.float32), DAY, read_index=3)


def single_device_per_column_compensation():
    chip, X = _chip(seed=4, pcm=HermesPCM(1), devices_per_polarity=1, drift_compensation="per_column")
    return chip.matmul(X, 30 * DAY)


def generic_tiles_and_faults():
    pcm = GenericPCM(stuck_set_fraction=0.1)
    chip, X = _chip(seed=6, n_inputs=300, n_outputs=40, pcm=pcm, devices_per_polarity=1, tile_size=128,
                    fault_compensation=True)
    return chip.matmul(X)


def reprogrammed_then_drifted():
    chip, X = _chip(seed=8)
    W = chip.target_weights
    W[::3, ::2] *= -0.5
    chip.reprogram(W, at=HOUR)
    return chip.matmul(X, DAY)


def unquantised_with_output_noise():
    chip, X = _chip(seed=10, pcm="ideal", dac_bits=None, adc_bits=None, post_processing="float")
    return chip.matmul(X)


def fp16_post_processing():
    chip, X = _chip(seed=12, post_processing="fp16")
    return chip.matmul(X)


def conductances_at_a_year():
    chip, _ = _chip(seed=14, n_inputs=4, n_outputs=3)
    return chip.conductances(360 * DAY)


def random_fourier_features():
    X = _data(16, (30, 5))
    return AnalogRandomFourierFeatures(8, gamma=0.3, sampling="sorf", random_state=0).fit(X).transform(X[:4])


def arc_cosine_features():
    X = _data(17, (30, 5))
    return AnalogArcCosineFeatures(8, order=1, random_state=0).fit(X).transform(X[:4])


def ridge_classifier_decisions():
    X = _data(18, (60, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return AnalogRidgeClassifier(random_state=0).fit(X, y).decision_function(X[:6])


CASES = [
    hermes,
    hermes_float32_day_read_index,
    single_device_per_column_compensation,
    generic_tiles_and_faults,
    reprogrammed_then_drifted,
    unquantised_with_output_noise,
    fp16_post_processing,
    conductances_at_a_year,
    random_fourier_features,
    arc_cosine_features,
    ridge_classifier_decisions,
]


def _encode(values):
    values = np.asarray(values)
    return {"dtype": str(values.dtype), "shape": list(values.shape),
            "values": [float(v).hex() for v in values.ravel().astype(np.float64)]}


def _decode(entry):
    flat = np.array([float.fromhex(v) for v in entry["values"]], dtype=np.float64)
    return flat.astype(entry["dtype"]).reshape(entry["shape"])


def _stored():
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


def regenerate():
    """Write the golden values of every case (a deliberate act: see the module's docstring)."""
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({case.__name__: _encode(case()) for case in CASES}, indent=1) + "\n")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_golden_values(case):
    stored = _stored()
    assert case.__name__ in stored, f"no golden value for {case.__name__}: regenerate (see this module's docstring)"
    expected = _decode(stored[case.__name__])
    got = case()
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_every_case_is_stored():
    assert set(_stored()) == {case.__name__ for case in CASES}


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit(f"usage: python {sys.argv[0]} --regenerate")
    regenerate()
    print(f"wrote {GOLDEN}")

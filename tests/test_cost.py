"""Tests of sklearn_aimc.cost: work counts, linearity, per-part sums and the table formats."""

import math
import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_aimc import (
    AnalogArcCosineFeatures,
    AnalogCrossbar,
    AnalogRandomFourierFeatures,
    AnalogRidge,
    AnalogRidgeClassifier,
    AnalogSoftmaxFeatures,
    estimate_cost,
)
from sklearn_aimc.cost import (
    CORE_AREA_MM2,
    EXP_FP32_OPS,
    HOROWITZ_45NM,
    PARTS,
    SINCOS_FP32_OPS,
    Work,
    core_mvm_energy,
    core_mvm_time,
    format_cost,
    work_of_read,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")

COLUMNS = [
    "chip energy (J)",
    "chip latency (s)",
    "chip area (mm^2)",
    "digital energy (J)",
    "digital latency (s)",
    "digital area (mm^2)",
]
TIME_COLUMNS = ["chip energy (J)", "chip latency (s)", "digital energy (J)", "digital latency (s)"]
PJ = 1e-12


def gaussian(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.fixture(scope="module")
def data():
    X = gaussian((120, 20), 0)
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


@pytest.fixture(scope="module")
def pipeline(data):
    # Two chips: 20 x 300 projections (2 column tiles), 600 x 3 readout (3 input tiles).
    X, y = data
    return make_pipeline(
        StandardScaler(),
        AnalogRandomFourierFeatures(300, gamma=0.1, random_state=0),
        AnalogRidgeClassifier(alpha=1.0, random_state=0),
    ).fit(X, y)


# HERMES figures ------------------------------------------------------------------------
def test_core_mvm_figures():
    # 2 * 256**2 operations: 13.4 nJ / 133 ns (1-phase), 52.9 nJ / 521 ns (4-phase).
    assert core_mvm_energy() == pytest.approx(13.43e-9, rel=1e-3)
    assert core_mvm_time() == pytest.approx(132.9e-9, rel=1e-3)
    assert core_mvm_energy("4-phase") == pytest.approx(52.85e-9, rel=1e-3)
    assert core_mvm_time("4-phase") == pytest.approx(521.0e-9, rel=1e-3)
    # 0.986 TOPS per core over 1.59 TOPS/mm^2.
    assert CORE_AREA_MM2 == pytest.approx(0.6201, rel=1e-3)
    with pytest.raises(ValueError, match="mode"):
        core_mvm_energy("2-phase")


# work_of_read against the chip's own counters -----------------------------------------
def counter_snapshot(chip):
    counters = chip.counters
    return {
        name: getattr(counters, name)
        for name in ("input_vectors", "dac_conversions", "adc_conversions", "core_mvms", "calibration_vectors")
    }


@pytest.mark.parametrize("shape", [(20, 30), (300, 10), (20, 300), (600, 513), (256, 256)])
@pytest.mark.parametrize("device", ["hermes", "ideal"])
def test_work_of_read_equals_counter_increments(shape, device):
    W = gaussian(shape, 1)
    X = gaussian((37, shape[0]), 2)
    crossbar = AnalogCrossbar() if device == "hermes" else AnalogCrossbar.ideal()
    chip = crossbar.program(W, calibration_inputs=X, random_state=0)
    for read in (chip.matmul, lambda Z: chip.map_matmul(Z, lambda rows, Y: None)):
        before = counter_snapshot(chip)
        read(X)
        after = counter_snapshot(chip)
        increment = {name: after[name] - before[name] for name in after}
        work = work_of_read(chip, X.shape[0])
        assert increment["input_vectors"] == work.input_vectors == 37
        assert increment["dac_conversions"] == work.dac_conversions
        assert increment["adc_conversions"] == work.adc_conversions
        # The first read at a new time adds drift-compensation reads: core MVMs
        # of calibration vectors, which are not part of a read's work.
        assert increment["core_mvms"] == work.core_mvms + increment["calibration_vectors"] * chip.n_tiles
    assert work.macs == 37 * shape[0] * shape[1]
    assert work.input_values == 37 * shape[0] and work.output_values == 37 * shape[1]
    n_row_tiles = len(chip.row_bounds) - 1
    assert work.partial_sum_additions == 37 * shape[1] * (n_row_tiles - 1)


def test_work_of_read_errors():
    chip = AnalogCrossbar.ideal().program(np.ones((3, 2)))
    assert work_of_read(chip, 0).core_mvms == 0
    with pytest.raises(TypeError, match="ProgrammedCrossbar"):
        work_of_read(AnalogCrossbar(), 3)
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="n_rows"):
            work_of_read(chip, bad)


# Hand-computed costs -------------------------------------------------------------------
def test_random_fourier_features_cost_by_hand(data):
    X, _ = data
    rff = AnalogRandomFourierFeatures(300, random_state=0).fit(X)  # 20 x 300: 2 tiles
    table = estimate_cost(rff, X, as_frame=False, digital_ops_per_second=1e12)
    n, s = 120, 300
    row = dict(zip(table["part"], range(6)))
    chip_energy, digital_energy = table["chip energy (J)"], table["digital energy (J)"]
    assert chip_energy[row["analog MVM"]] == pytest.approx(n * 2 * 13.43e-9, rel=1e-3)
    assert table["chip latency (s)"][row["analog MVM"]] == pytest.approx(n * 132.9e-9, rel=1e-3)
    assert table["chip area (mm^2)"][row["analog MVM"]] == pytest.approx(2 * 0.6201, rel=1e-3)
    assert chip_energy[row["DAC / ADC"]] == 0.0
    # NMPU: one int8 multiply and one int32 add per ADC conversion (n * 300, one input tile).
    assert chip_energy[row["near-memory unit"]] == pytest.approx(n * s * 0.3 * PJ, rel=1e-12)
    # cos/sin pair (14 mult + 14 add) and two FP32 scalings per projection.
    digital = n * s * (14 * 0.9 + (14 + 2) * 3.7) * PJ
    assert chip_energy[row["digital"]] == pytest.approx(digital, rel=1e-12)
    assert digital_energy[row["digital"]] == pytest.approx(digital, rel=1e-12)
    assert table["chip latency (s)"][row["digital"]] == pytest.approx(n * s * 30 / 1e12, rel=1e-12)
    # Baseline: 20 * 300 int8 MACs per row, FP16 scale and offset per output.
    assert digital_energy[row["analog MVM"]] == pytest.approx(n * 20 * s * 0.3 * PJ, rel=1e-12)
    assert table["digital latency (s)"][row["analog MVM"]] == pytest.approx(2 * n * 20 * s / 1e12, rel=1e-12)
    assert digital_energy[row["near-memory unit"]] == pytest.approx(n * s * 1.5 * PJ, rel=1e-12)
    # SRAM at 10 pJ / 64 bits: 8-bit inputs and 16-bit outputs; the baseline
    # also fetches every 8-bit weight for every row.
    moved = n * (20 * 8 + s * 16)
    assert chip_energy[row["data movement"]] == pytest.approx(moved * 10 / 64 * PJ, rel=1e-12)
    assert digital_energy[row["data movement"]] == pytest.approx((moved + n * 20 * s * 8) * 10 / 64 * PJ, rel=1e-12)
    # Unknown areas are NaN, so their total is.
    assert math.isnan(table["chip area (mm^2)"][row["near-memory unit"]])
    assert math.isnan(table["chip area (mm^2)"][row["total"]])
    assert all(math.isnan(v) for part, v in zip(table["part"], table["digital area (mm^2)"]) if part != "DAC / ADC")


def test_four_phase_mode(data):
    X, _ = data
    rff = AnalogArcCosineFeatures(30, random_state=0).fit(X)
    one = estimate_cost(rff, X, as_frame=False)
    four = estimate_cost(rff, X, mode="4-phase", as_frame=False)
    ratio = four["chip energy (J)"][0] / one["chip energy (J)"][0]
    assert ratio == pytest.approx(9.76 / 2.48, rel=1e-12)
    assert four["chip latency (s)"][0] / one["chip latency (s)"][0] == pytest.approx(63.1 / 16.1, rel=1e-12)
    assert four["digital energy (J)"] == one["digital energy (J)"]


# Estimators' declared digital work --------------------------------------------------------
def test_estimators_declare_their_digital_work(data):
    X, y = data
    n, d = X.shape
    rff = AnalogRandomFourierFeatures(50, device="ideal", random_state=0).fit(X)
    assert rff._cost_work(n) == Work(reads=((rff.crossbar_, n),), sincos=n * 50, multiplications=2 * n * 50)
    for order, additions, multiplications in ((0, 2, 1), (1, 1, 1), (2, 1, 2)):
        arc = AnalogArcCosineFeatures(40, order=order, device="ideal", random_state=0).fit(X)
        work = arc._cost_work(n)
        assert (work.additions, work.multiplications) == (n * 40 * additions, n * 40 * multiplications)
    soft = AnalogSoftmaxFeatures(30, device="ideal", random_state=0).fit(X)
    work = soft._cost_work(n)
    assert (work.exp, work.additions, work.multiplications) == (n * 60, n * (d - 1 + 60), n * (d + 1 + 60))
    assert work.fp32_multiplications == work.multiplications + n * 60 * EXP_FP32_OPS["multiplications"]
    assert work.fp32_additions == work.additions + n * 60 * EXP_FP32_OPS["additions"]
    # Readouts: intercepts, then a threshold (binary) or an argmax over 3 classes.
    ridge = AnalogRidge(device="ideal").fit(X, y)
    assert ridge._cost_work(n).additions == n
    assert AnalogRidge(fit_intercept=False, device="ideal").fit(X, y)._cost_work(n).additions == 0
    classifier = AnalogRidgeClassifier(device="ideal").fit(X, y)
    assert classifier._cost_work(n).additions == n * (3 + 2)
    binary = AnalogRidgeClassifier(device="ideal").fit(X, y > 0)
    assert binary._cost_work(n).additions == n * (1 + 1)
    assert Work(sincos=2).fp32_multiplications == 2 * SINCOS_FP32_OPS["multiplications"]


def test_sklearn_digital_steps(data):
    X, y = data
    n, d = X.shape
    fp32 = HOROWITZ_45NM["fp32_add"], HOROWITZ_45NM["fp32_mult"]

    def digital_energy(step):
        table = estimate_cost(step, X, as_frame=False)
        assert table["chip energy (J)"] == table["digital energy (J)"]  # digital only
        return table["chip energy (J)"][PARTS.index("digital")]

    assert digital_energy(StandardScaler().fit(X)) == pytest.approx(n * d * sum(fp32), rel=1e-12)
    assert digital_energy(StandardScaler(with_mean=False).fit(X)) == pytest.approx(n * d * fp32[1], rel=1e-12)
    assert digital_energy(MinMaxScaler().fit(X)) == pytest.approx(n * d * sum(fp32), rel=1e-12)
    # Three classes: 3 dot products of d, intercepts, argmax over 3 (2 comparisons).
    expected = n * (3 * d * fp32[1] + (3 * d + 2) * fp32[0])
    assert digital_energy(LogisticRegression().fit(X, y)) == pytest.approx(expected, rel=1e-12)
    assert digital_energy(RidgeClassifier().fit(X, y)) == pytest.approx(expected, rel=1e-12)


# Linearity and sums ------------------------------------------------------------------
@pytest.mark.parametrize("throughput", [None, 2e12])
def test_energy_and_latency_linear_in_rows(pipeline, data, throughput):
    X, _ = data
    one = estimate_cost(pipeline, X, digital_ops_per_second=throughput, as_frame=False)
    two = estimate_cost(pipeline, np.vstack([X, X]), digital_ops_per_second=throughput, as_frame=False)
    three = estimate_cost(pipeline, np.vstack([X, X, X]), digital_ops_per_second=throughput, as_frame=False)
    for name in TIME_COLUMNS:
        # Every figure is a sum of (integer count) x (constant): doubling is exact.
        np.testing.assert_array_equal(two[name], 2 * np.array(one[name]))
        np.testing.assert_allclose(three[name], 3 * np.array(one[name]), rtol=1e-12)
    for name in ("chip area (mm^2)", "digital area (mm^2)"):
        np.testing.assert_array_equal(two[name], one[name])  # area does not grow with the data
    empty = estimate_cost(pipeline, X[:0], as_frame=False)
    assert all(value == 0 for value in empty["chip energy (J)"])
    if throughput is None:
        assert math.isnan(one["digital latency (s)"][-1]) and math.isnan(one["chip latency (s)"][-1])
    else:
        assert all(math.isfinite(value) for name in TIME_COLUMNS for value in one[name])


@pytest.mark.parametrize("throughput", [None, 1e13])
def test_parts_sum_to_totals(pipeline, data, throughput):
    X, _ = data
    table = estimate_cost(pipeline, X, digital_ops_per_second=throughput, as_frame=False)
    assert table["part"] == [*PARTS, "total"]
    for name in COLUMNS:
        parts, total = table[name][:-1], table[name][-1]
        assert len(parts) == len(PARTS)
        np.testing.assert_array_equal(total, sum(parts))  # NaN when a part is unknown
    assert table["chip energy (J)"][-1] > 0 and table["digital energy (J)"][-1] > 0


def test_pipeline_equals_sum_of_its_steps(pipeline, data):
    X, _ = data
    scaler, rff, readout = (step for _, step in pipeline.steps)
    inputs = [X, scaler.transform(X), rff.transform(scaler.transform(X))]
    parts = [estimate_cost(step, Z, as_frame=False) for step, Z in zip((scaler, rff, readout), inputs)]
    whole = estimate_cost(pipeline, X, as_frame=False)
    for name in TIME_COLUMNS:
        np.testing.assert_allclose(whole[name], np.sum([part[name] for part in parts], axis=0), rtol=1e-12)
    # The area of the chips: both crossbars' cores.
    tiles = rff.crossbar_.n_tiles + readout.crossbar_.n_tiles
    assert whole["chip area (mm^2)"][0] == pytest.approx(tiles * CORE_AREA_MM2, rel=1e-12)
    assert rff.crossbar_.n_tiles == 2 and readout.crossbar_.n_tiles == 3
    # Partial sums of the readout's 3 input tiles: 2 additions per output and row.
    assert "720 FP32 additions of input-tile partial sums" in whole["notes"][PARTS.index("digital")]
    passthrough = make_pipeline("passthrough", rff)
    np.testing.assert_array_equal(
        estimate_cost(passthrough, inputs[1], as_frame=False)["chip energy (J)"], parts[1]["chip energy (J)"]
    )


def test_estimate_does_not_touch_the_chips(pipeline, data):
    X, _ = data
    chips = [pipeline[1].crossbar_, pipeline[2].crossbar_]
    before = [chip.counters.as_dict() for chip in chips]
    estimate_cost(pipeline, X)
    assert [chip.counters.as_dict() for chip in chips] == before


# Options ---------------------------------------------------------------------------------
def test_post_processing_choice(data):
    X, _ = data
    rff = AnalogRandomFourierFeatures(30, random_state=0).fit(X)
    unit_row = PARTS.index("near-memory unit")
    fixed = estimate_cost(rff, X, as_frame=False)
    fp16 = estimate_cost(rff, X, post_processing="fp16", as_frame=False)
    # FP16 mult + add (1.5 pJ) against int8 mult + int32 add (0.3 pJ) per conversion.
    assert fp16["chip energy (J)"][unit_row] / fixed["chip energy (J)"][unit_row] == pytest.approx(5.0, rel=1e-12)
    assert fp16["digital energy (J)"] == fixed["digital energy (J)"]
    assert "FP16 unit (FP16 mult" in fp16["notes"][unit_row]
    # None follows the chip's configuration (a crossbar with post_processing="fp16").
    rff.crossbar_.crossbar = clone(rff.crossbar_.crossbar)
    rff.crossbar_.crossbar.post_processing = "fp16"
    assert estimate_cost(rff, X, as_frame=False)["chip energy (J)"] == fp16["chip energy (J)"]
    assert estimate_cost(rff, X, post_processing="fixed", as_frame=False)["chip energy (J)"] == fixed["chip energy (J)"]


def test_digital_energy_scale_and_node(data):
    X, _ = data
    rff = AnalogRandomFourierFeatures(30, random_state=0).fit(X)
    plain = estimate_cost(rff, X, as_frame=False)
    scaled = estimate_cost(rff, X, digital_node_nm=14, digital_energy_scale=0.25, as_frame=False)
    # Every Horowitz figure is scaled, the measured HERMES core MVMs are not.
    assert scaled["chip energy (J)"][0] == plain["chip energy (J)"][0]
    for part in range(2, len(PARTS)):
        assert scaled["chip energy (J)"][part] == pytest.approx(0.25 * plain["chip energy (J)"][part], rel=1e-12)
    np.testing.assert_allclose(scaled["digital energy (J)"], 0.25 * np.array(plain["digital energy (J)"]), rtol=1e-12)
    assert "CAVEAT" in plain["notes"][-1] and "CAVEAT" not in scaled["notes"][-1]
    assert "x 0.25, user-supplied" in scaled["notes"][PARTS.index("digital")]
    with pytest.raises(ValueError, match="digital_node_nm=14.*digital_energy_scale"):
        estimate_cost(rff, X, digital_node_nm=14)


def test_weight_reuse_divides_weight_fetches(data):
    X, _ = data
    rff = AnalogRandomFourierFeatures(30, random_state=0).fit(X)
    row = PARTS.index("data movement")
    batch_1 = estimate_cost(rff, X, as_frame=False)["digital energy (J)"][row]
    batch_8 = estimate_cost(rff, X, weight_reuse=8, as_frame=False)["digital energy (J)"][row]
    chip = estimate_cost(rff, X, as_frame=False)["chip energy (J)"][row]
    weights = batch_1 - chip
    assert weights == pytest.approx(120 * 20 * 30 * 8 * 10 / 64 * PJ, rel=1e-9)
    assert batch_8 - chip == pytest.approx(weights / 8, rel=1e-9)


def test_notes_flag_many_tiles_and_other_tile_sizes():
    X = gaussian((5, 20), 3)
    small = AnalogRandomFourierFeatures(300, device=AnalogCrossbar(tile_size=16), random_state=0).fit(X)
    note = estimate_cost(small, X, as_frame=False)["notes"][-1]
    assert small.crossbar_.n_tiles == 2 * 19
    assert "tile sizes [16] costed as full 256 x 256" in note
    big = AnalogRandomFourierFeatures(8192, device="ideal", random_state=0).fit(X)  # 32 tiles
    wide = make_pipeline(big, AnalogRidge(device="ideal").fit(big.transform(X), X[:, :3]))
    assert "tiles exceed one chip's 64 cores" in estimate_cost(wide, X, as_frame=False)["notes"][-1]


# Output formats -----------------------------------------------------------------------
def test_dataframe_and_dict(pipeline, data):
    pd = pytest.importorskip("pandas")
    X, _ = data
    frame = estimate_cost(pipeline, X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == [*PARTS, "total"] and frame.index.name == "part"
    assert list(frame.columns) == [*COLUMNS, "notes"]
    table = estimate_cost(pipeline, X, as_frame=False)
    assert isinstance(table, dict) and list(table) == ["part", *COLUMNS, "notes"]
    for name in COLUMNS:
        np.testing.assert_array_equal(frame[name].to_numpy(), table[name])
    assert list(frame["notes"]) == table["notes"]
    assert isinstance(estimate_cost(pipeline, X, as_frame=True), pd.DataFrame)


def test_dict_without_pandas(pipeline, data, monkeypatch):
    X, _ = data
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    assert isinstance(estimate_cost(pipeline, X), dict)
    with pytest.raises(ImportError, match="as_frame=True needs pandas"):
        estimate_cost(pipeline, X, as_frame=True)


def test_format_cost(pipeline, data):
    X, _ = data
    for table in (estimate_cost(pipeline, X, as_frame=False), estimate_cost(pipeline, X)):
        text = format_cost(table)
        lines = text.splitlines()
        assert lines[0].split()[:3] == ["part", "chip", "energy"]
        assert any(line.startswith("analog MVM") and "uJ" in line and "mm^2" in line for line in lines)
        assert "n/a" in text and "digital baseline / chip energy:" in text and "CAVEAT" in text


# Bad input ---------------------------------------------------------------------------
class ForeignTransformer(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return X


class DeclaresWork(ForeignTransformer):
    def _cost_work(self, n_samples):
        return Work(additions=7 * n_samples)


class DeclaresNonsense(ForeignTransformer):
    def _cost_work(self, n_samples):
        return {"additions": n_samples}


def test_unfitted_estimators(data):
    X, y = data
    with pytest.raises(NotFittedError):
        estimate_cost(AnalogRandomFourierFeatures(10), X)
    with pytest.raises(NotFittedError):
        estimate_cost(make_pipeline(StandardScaler(), AnalogRidge()), X)


def test_foreign_estimators_are_named(data):
    X, y = data
    with pytest.raises(TypeError, match=r"sklearn\.decomposition\._pca\.PCA.*_cost_work"):
        estimate_cost(PCA(3).fit(X), X)
    with pytest.raises(TypeError, match="ForeignTransformer"):
        estimate_cost(make_pipeline(ForeignTransformer().fit(X), StandardScaler().fit(X)), X)
    with pytest.raises(TypeError, match="str"):
        estimate_cost("hermes", X)
    with pytest.raises(TypeError, match="must return a sklearn_aimc.cost.Work, got dict"):
        estimate_cost(DeclaresNonsense().fit(X), X)
    # The hook: a foreign estimator that declares its work is costed like a digital step.
    table = estimate_cost(make_pipeline(DeclaresWork().fit(X)), X, as_frame=False)
    assert table["chip energy (J)"][PARTS.index("digital")] == pytest.approx(7 * 120 * 0.9 * PJ, rel=1e-12)


def test_bad_X_and_parameters(pipeline, data):
    X, _ = data
    with pytest.raises(ValueError, match="X has 19 features, but StandardScaler was fitted with 20"):
        estimate_cost(pipeline, X[:, :19])
    with pytest.raises(ValueError, match="X has 5 features, but AnalogRidgeClassifier was fitted with 600"):
        estimate_cost(pipeline[-1], X[:, :5])
    with pytest.raises(ValueError):
        estimate_cost(pipeline, X[0])  # 1-D
    for kwargs in (
        {"mode": "2-phase"},
        {"post_processing": "float"},
        {"digital_ops_per_second": 0},
        {"weight_reuse": 0.5},
        {"digital_energy_scale": -1.0},
        {"as_frame": "yes"},
    ):
        with pytest.raises(InvalidParameterError):
            estimate_cost(pipeline, X, **kwargs)

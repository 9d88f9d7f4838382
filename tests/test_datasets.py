"""Tests of sklearn_aimc.datasets on tiny synthetic files (no shared data, no network)."""

import dataclasses
import gzip
import sys

import numpy as np
import pytest
from scipy import sparse
from sklearn.utils import Bunch

from sklearn_aimc import datasets
from sklearn_aimc.datasets import DATASETS, load_benchmark, load_csv

# The paper's label rules, written out independently of the module.
LABELS = {
    "magic04": ({"g"}, {"h"}),
    "letter": (set("ABCDEFGHIJKLM"), set("NOPQRSTUVWXYZ")),
    "eeg": ({"1"}, {"0"}),
    "ijcnn1": ({"1"}, {"-1"}),
    "cod-rna": ({"1"}, {"-1"}),
    "skin": ({"1"}, {"2"}),
    "covtype": ({"2"}, {"1", "3", "4", "5", "6", "7"}),
}
N_FEATURES = {
    "magic04": 10, "letter": 16, "eeg": 14, "ijcnn1": 22, "cod-rna": 8, "skin": 3, "covtype": 54,
}
FILES = {
    "magic04": ["magic04.csv.gz"],
    "letter": ["letter.csv.gz"],
    "eeg": ["eeg.csv.gz"],
    "skin": ["skin.csv.gz"],
    "covtype": ["covtype.csv.gz"],
    "cod-rna": ["cod-rna-train.csv.gz", "cod-rna-test.csv.gz"],
    "ijcnn1": ["ijcnn1-train.csv.gz", "ijcnn1-val.csv.gz", "ijcnn1-test.csv.gz"],
}
RANDOM = ["magic04", "eeg", "skin", "covtype"]


# --------------------------------------------------------------------------- helpers
def write_csv(path, X, y, header=None):
    """Write a benchmark file (gzip when the name ends in .gz)."""
    X = np.asarray(X)
    header = header or ",".join([f"x{i}" for i in range(X.shape[1])] + ["y"])
    body = np.column_stack([X.astype(str), np.asarray(y).astype(str)])
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt") as handle:
        np.savetxt(handle, body, fmt="%s", delimiter=",", header=header, comments="")
    return path


def write_text(path, text):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt") as handle:
        handle.write(text)
    return path


def tokens_of(name):
    positive, negative = LABELS[name]
    return sorted(positive | negative)


def write_file(path, ids, tokens, n_features, rng):
    """x0 is the row id, the other features small random integers."""
    X = np.column_stack([ids, rng.integers(-5, 6, size=(len(ids), n_features - 1))])
    write_csv(path, X, tokens)


def make_dataset(directory, name, sizes, seed=0):
    """Write the files of ``name``; return (ids, tokens) per file, ids unique overall."""
    rng = np.random.default_rng(seed)
    pool, written, start = tokens_of(name), [], 0
    for filename, n in zip(FILES[name], sizes):
        ids = np.arange(start, start + n)
        tokens = np.array(pool)[(ids * 5 + ids // 4) % len(pool)]
        write_file(directory / filename, ids, tokens, N_FEATURES[name], rng)
        written.append((ids, tokens))
        start += n
    return written


def expected_labels(name, tokens):
    return np.isin(tokens, sorted(LABELS[name][0])).astype(np.int64)


def recover_ids(bunch, all_ids):
    """Row ids of X_train then X_test: the z-score keeps the order of x0."""
    x0 = np.concatenate([bunch.X_train[:, 0], bunch.X_test[:, 0]])
    ranks = np.argsort(np.argsort(x0, kind="stable"), kind="stable")
    ids = np.sort(all_ids)[ranks]
    return ids[: len(bunch.X_train)], ids[len(bunch.X_train):]


class FakeOpenML:
    """Stand-in for fetch_openml: records calls, returns a Bunch or raises."""

    def __init__(self, data=None, target=None, feature_names=None, error=None):
        self.calls, self.error = [], error
        self.bunch = Bunch(data=data, target=target, feature_names=feature_names, DESCR="fake")

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return self.bunch


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No environment leakage, no home-directory writes, no network."""
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn_home"))
    offline = FakeOpenML(error=OSError("network disabled in tests"))
    monkeypatch.setattr(datasets, "fetch_openml", offline)


@pytest.fixture(params=["pandas", "numpy"])
def parser(request, monkeypatch):
    """Run a test with the pandas fast path and with the forced numpy path."""
    if request.param == "numpy":
        monkeypatch.setattr(datasets, "_import_pandas", lambda: None)
    else:
        pytest.importorskip("pandas")
    return request.param


# --------------------------------------------------------------------------- registry
def test_registry_names_and_read_only():
    assert set(DATASETS) == set(LABELS)
    with pytest.raises(TypeError):
        DATASETS["new"] = DATASETS["skin"]
    info = DATASETS["ijcnn1"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.n_features = 3
    with pytest.raises(TypeError):
        info.files["train"] = "other.csv.gz"


@pytest.mark.parametrize("name", sorted(LABELS))
def test_registry_entries(name):
    info = DATASETS[name]
    assert info.name == name
    assert info.n_features == N_FEATURES[name]
    assert list(info.filenames) == FILES[name]
    assert info.split == ("random" if name in RANDOM else "official")
    assert set(info.positive_labels) == LABELS[name][0]
    assert set(info.negative_labels) == LABELS[name][1]


def test_registry_openml_ids():
    ids = {name: (info.openml_name, info.openml_data_id) for name, info in DATASETS.items()}
    assert ids == {
        "magic04": ("MagicTelescope", 1120), "letter": ("letter", 6),
        "eeg": ("eeg-eye-state", 1471), "skin": ("skin-segmentation", 1502),
        "ijcnn1": ("ijcnn", 1575), "cod-rna": ("codrnaNorm", 351),
        "covtype": ("covertype", 1596),
    }


# --------------------------------------------------------------------------- labels and splits
@pytest.mark.parametrize("name", sorted(LABELS))
def test_label_mapping_and_row_accounting(tmp_path, name):
    sizes = {"letter": [16026], "cod-rna": [30, 22], "ijcnn1": [20, 14, 16]}.get(name, [41])
    written = make_dataset(tmp_path, name, sizes)
    bunch = load_benchmark(name, data_home=tmp_path, source="local")
    all_ids = np.concatenate([ids for ids, _ in written])
    all_tokens = np.concatenate([tokens for _, tokens in written])
    train_ids, test_ids = recover_ids(bunch, all_ids)
    # every row exactly once, and every label follows the paper's rule
    np.testing.assert_array_equal(np.sort(np.concatenate([train_ids, test_ids])), all_ids)
    truth = expected_labels(name, all_tokens)
    np.testing.assert_array_equal(bunch.y_train, truth[train_ids])
    np.testing.assert_array_equal(bunch.y_test, truth[test_ids])
    assert bunch.y_train.dtype == np.int64 and bunch.y_test.dtype == np.int64
    assert 0 < truth.sum() < len(truth)
    assert bunch.name == name and bunch.source == "local"
    assert bunch.feature_names == [f"x{i}" for i in range(N_FEATURES[name])]
    if name in RANDOM:
        assert (len(bunch.y_train), len(bunch.y_val), len(bunch.y_test)) == (20, 10, 21)


@pytest.mark.parametrize("n, expected", [(41, (20, 10, 11)), (40, (20, 10, 10)), (7, (3, 2, 2))])
def test_random_split_sizes(tmp_path, n, expected):
    make_dataset(tmp_path, "magic04", [n])
    bunch = load_benchmark("magic04", data_home=tmp_path)
    n_train, n_val, n_test = expected
    assert bunch.X_train.shape == (n_train, 10)
    assert bunch.X_val.shape == (n_val, 10)
    assert bunch.X_test.shape == (n_val + n_test, 10)
    np.testing.assert_array_equal(bunch.X_test[:n_val], bunch.X_val)
    np.testing.assert_array_equal(bunch.y_test[:n_val], bunch.y_val)


@pytest.mark.parametrize("name", RANDOM)
def test_random_split_is_seeded(tmp_path, name):
    written = make_dataset(tmp_path, name, [60])
    ids = written[0][0]
    first = load_benchmark(name, data_home=tmp_path, random_state=3)
    again = load_benchmark(name, data_home=tmp_path, random_state=3)
    other = load_benchmark(name, data_home=tmp_path, random_state=4)
    for key in ("X_train", "X_val", "X_test", "y_train", "y_test"):
        np.testing.assert_array_equal(first[key], again[key])
    first_ids, _ = recover_ids(first, ids)
    other_ids, _ = recover_ids(other, ids)
    assert set(first_ids) != set(other_ids)
    assert not np.array_equal(first_ids, np.arange(30))  # shuffled, not the file head


def test_cod_rna_official_files(tmp_path):
    (train_ids, _), (test_ids, test_tokens) = make_dataset(tmp_path, "cod-rna", [30, 22])
    bunch = load_benchmark("cod-rna", data_home=tmp_path, random_state=5)
    got_train, got_test = recover_ids(bunch, np.concatenate([train_ids, test_ids]))
    np.testing.assert_array_equal(got_train, train_ids)  # file order kept
    np.testing.assert_array_equal(got_test, test_ids)
    np.testing.assert_array_equal(bunch.y_test, expected_labels("cod-rna", test_tokens))
    assert bunch.X_val.shape == (0, 8) and bunch.y_val.shape == (0,)


def test_letter_uci_split_first_16000_rows(tmp_path):
    ((ids, tokens),) = make_dataset(tmp_path, "letter", [20000])
    bunch = load_benchmark("letter", data_home=tmp_path, random_state=11)
    got_train, got_test = recover_ids(bunch, ids)
    np.testing.assert_array_equal(got_train, np.arange(16000))
    np.testing.assert_array_equal(got_test, np.arange(16000, 20000))
    truth = expected_labels("letter", tokens)
    np.testing.assert_array_equal(bunch.y_train, truth[:16000])
    np.testing.assert_array_equal(bunch.y_test, truth[16000:])
    assert bunch.X_val.shape == (0, 16)


def test_letter_too_short_for_uci_split(tmp_path):
    make_dataset(tmp_path, "letter", [16000])
    with pytest.raises(ValueError, match="16000"):
        load_benchmark("letter", data_home=tmp_path)


def test_ijcnn1_val_joined_before_test(tmp_path):
    written = make_dataset(tmp_path, "ijcnn1", [20, 14, 16])
    (train_ids, _), (val_ids, val_tokens), (test_ids, test_tokens) = written
    bunch = load_benchmark("ijcnn1", data_home=tmp_path)
    got_train, got_test = recover_ids(bunch, np.arange(50))
    np.testing.assert_array_equal(got_train, train_ids)
    np.testing.assert_array_equal(got_test, np.concatenate([val_ids, test_ids]))
    assert bunch.X_val.shape == (14, 22)
    np.testing.assert_array_equal(bunch.X_val, bunch.X_test[:14])
    np.testing.assert_array_equal(bunch.y_val, expected_labels("ijcnn1", val_tokens))
    np.testing.assert_array_equal(bunch.y_test[14:], expected_labels("ijcnn1", test_tokens))


def test_return_X_y(tmp_path):
    make_dataset(tmp_path, "eeg", [30])
    bunch = load_benchmark("eeg", data_home=tmp_path, random_state=2)
    X_train, X_test, y_train, y_test = load_benchmark(
        "eeg", data_home=tmp_path, random_state=2, return_X_y=True
    )
    np.testing.assert_array_equal(X_train, bunch.X_train)
    np.testing.assert_array_equal(X_test, bunch.X_test)
    np.testing.assert_array_equal(y_train, bunch.y_train)
    np.testing.assert_array_equal(y_test, bunch.y_test)


# --------------------------------------------------------------------------- z-score and dtype
def write_cod_rna_with_shift(directory):
    rng = np.random.default_rng(1)
    X_train = rng.normal(3.0, 2.0, size=(40, 8))
    X_test = rng.normal(5.0, 4.0, size=(25, 8))
    X_train[:, 7] = X_test[:, 7] = 4.5  # a constant column
    write_csv(directory / "cod-rna-train.csv.gz", X_train, np.tile(["1", "-1"], 20))
    write_csv(directory / "cod-rna-test.csv.gz", X_test, np.r_[np.tile(["1", "-1"], 12), ["1"]])
    return X_train, X_test


def test_zscore_uses_training_statistics_only(tmp_path):
    raw_train, raw_test = write_cod_rna_with_shift(tmp_path)
    bunch = load_benchmark("cod-rna", data_home=tmp_path)
    np.testing.assert_allclose(bunch.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(bunch.X_train[:, :7].std(axis=0), 1.0, rtol=1e-12)
    scale = raw_train.std(axis=0)
    scale[7] = 1.0  # constant column: centred only
    expected = (raw_test - raw_train.mean(axis=0)) / scale
    np.testing.assert_allclose(bunch.X_test, expected, rtol=1e-12, atol=1e-12)
    assert np.abs(bunch.X_test[:, :7].mean(axis=0)).min() > 0.1  # not re-standardised
    assert not np.isnan(bunch.X_train).any() and not np.isnan(bunch.X_test).any()
    np.testing.assert_array_equal(bunch.X_train[:, 7], 0.0)


def test_float32_stays_float32(tmp_path):
    write_cod_rna_with_shift(tmp_path)
    make_dataset(tmp_path, "skin", [30])
    for name in ("cod-rna", "skin"):
        b64 = load_benchmark(name, data_home=tmp_path)
        b32 = load_benchmark(name, data_home=tmp_path, dtype=np.float32)
        for key in ("X_train", "X_val", "X_test"):
            assert b64[key].dtype == np.float64
            assert b32[key].dtype == np.float32
            np.testing.assert_allclose(b32[key], b64[key], rtol=1e-6, atol=1e-6)
        assert b32.y_train.dtype == np.int64


@pytest.mark.parametrize("dtype", [np.int64, "float16", None, "not-a-dtype", np.complex128])
def test_invalid_dtype(tmp_path, dtype):
    make_dataset(tmp_path, "skin", [10])
    with pytest.raises(ValueError, match="dtype"):
        load_benchmark("skin", data_home=tmp_path, dtype=dtype)
    with pytest.raises(ValueError, match="dtype"):
        load_csv(tmp_path / "skin.csv.gz", dtype=dtype)


# --------------------------------------------------------------------------- data home
def test_env_var_lookup(tmp_path, monkeypatch):
    home = tmp_path / "from_env"
    home.mkdir()
    make_dataset(home, "skin", [12])
    monkeypatch.setenv(datasets.ENV_VAR, str(home))
    bunch = load_benchmark("skin")
    assert bunch.source == "local"
    assert str(home / "skin.csv.gz") in bunch.description


def test_data_home_takes_precedence_over_env(tmp_path, monkeypatch):
    env_home, arg_home = tmp_path / "env", tmp_path / "arg"
    env_home.mkdir()
    arg_home.mkdir()
    make_dataset(env_home, "skin", [12])
    make_dataset(arg_home, "skin", [20])
    monkeypatch.setenv(datasets.ENV_VAR, str(env_home))
    bunch = load_benchmark("skin", data_home=arg_home)
    assert len(bunch.y_train) + len(bunch.y_test) == 20
    assert str(arg_home) in bunch.description


def test_default_data_home_is_sklearn_data_home(tmp_path):
    default = tmp_path / "sklearn_home" / "sklearn_aimc"
    with pytest.raises(FileNotFoundError) as error:
        load_benchmark("magic04", source="local")
    assert str(default / "magic04.csv.gz") in str(error.value)
    default.mkdir(parents=True, exist_ok=True)
    make_dataset(default, "magic04", [10])
    assert load_benchmark("magic04").source == "local"


def test_missing_local_files_error(tmp_path, monkeypatch):
    fake = FakeOpenML(error=AssertionError("must not be called"))
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    make_dataset(tmp_path, "ijcnn1", [5, 5, 5])
    (tmp_path / "ijcnn1-val.csv.gz").unlink()
    with pytest.raises(FileNotFoundError) as error:
        load_benchmark("ijcnn1", data_home=tmp_path, source="local")
    message = str(error.value)
    for filename in FILES["ijcnn1"]:
        assert str(tmp_path / filename) in message
    assert "SKLEARN_AIMC_DATA" in message
    assert "source='openml'" in message and "shared datasets" in message
    assert fake.calls == []


def test_unknown_name_and_source(tmp_path):
    with pytest.raises(ValueError) as error:
        load_benchmark("mnist", data_home=tmp_path)
    assert all(name in str(error.value) for name in LABELS)
    with pytest.raises(ValueError, match="source"):
        load_benchmark("skin", data_home=tmp_path, source="web")


def test_unknown_label_in_local_file(tmp_path):
    write_csv(tmp_path / "magic04.csv.gz", np.ones((4, 10)), ["g", "h", "x", "g"])
    with pytest.raises(ValueError, match=r"magic04\.csv\.gz.*'x'.*cannot be mapped"):
        load_benchmark("magic04", data_home=tmp_path)


def test_wrong_feature_count_in_local_file(tmp_path):
    write_csv(tmp_path / "skin.csv.gz", np.ones((4, 4)), ["1", "2", "1", "2"])
    with pytest.raises(ValueError, match="has 4 features"):
        load_benchmark("skin", data_home=tmp_path)


# --------------------------------------------------------------------------- load_csv
def test_load_csv_reads_plain_and_gzip(tmp_path, parser):
    text = "x0,x1,y\n1.5,-2,g\n3e2,4,h\n"
    for path in (write_text(tmp_path / "a.csv", text), write_text(tmp_path / "a.csv.gz", text)):
        X, y, names = load_csv(path)
        np.testing.assert_array_equal(X, [[1.5, -2.0], [300.0, 4.0]])
        np.testing.assert_array_equal(y, ["g", "h"])
        assert y.dtype.kind == "U" and X.dtype == np.float64 and names == ["x0", "x1"]


@pytest.mark.parametrize(
    "header", ["x0,x2,y", "a,b,y", "x0,x1", "x1,x0,y", "y", "", "x0,x1,y,z", "X0,X1,Y"]
)
def test_load_csv_malformed_header(tmp_path, parser, header):
    path = write_text(tmp_path / "bad.csv.gz", f"{header}\n1,2,g\n")
    with pytest.raises(ValueError, match=r"bad\.csv\.gz: line 1: malformed header"):
        load_csv(path)


@pytest.mark.parametrize(
    "rows, match",
    [
        ("1,2,g\n3,4,5,h\n", "line 3: malformed row with 4"),
        ("1,2,g\n\n3,4,h\n5,h\n", "line 5: malformed row with 2"),
        ("1,2,g\n3,abc,h\n", "line 3: non-numeric 'abc' for feature x1"),
        ("1,2,g\n\n\n3,,h\n", "line 5: non-numeric '' for feature x1"),
        ("true,2,g\n", "line 2: non-numeric 'true' for feature x0"),
        ("1,2,g\n   \n", "line 3: malformed row with 1"),
    ],
)
def test_load_csv_malformed_rows(tmp_path, parser, rows, match):
    path = write_text(tmp_path / "bad.csv.gz", "x0,x1,y\n" + rows)
    with pytest.raises(ValueError, match=r"bad\.csv\.gz: " + match):
        load_csv(path)


def test_numpy_path_equals_pandas_path(tmp_path, monkeypatch):
    pandas = pytest.importorskip("pandas")
    rng = np.random.default_rng(7)
    X = np.column_stack([
        rng.normal(size=300) * 10.0 ** rng.integers(-8, 8, size=300),
        rng.integers(-1000, 1000, size=300),
        np.round(rng.uniform(-1, 1, size=300), 6),
    ])
    y = rng.choice(["-1", "1", "g", "A"], size=300)
    paths = [write_csv(tmp_path / "f.csv.gz", X, y), write_csv(tmp_path / "f.csv", X, y)]
    paths.append(write_text(tmp_path / "nan.csv", "x0,x1,y\nnan,1,g\n2,inf,h\n"))
    spy_calls = []
    real_read_csv = pandas.read_csv

    def spy(*args, **kwargs):
        spy_calls.append(args)
        return real_read_csv(*args, **kwargs)

    monkeypatch.setattr(pandas, "read_csv", spy)
    for dtype in (np.float64, np.float32):
        fast = [load_csv(path, dtype=dtype) for path in paths]
        assert len(spy_calls) == len(paths)  # the fast path really ran
        with monkeypatch.context() as patch:
            patch.setattr(datasets, "_import_pandas", lambda: None)
            slow = [load_csv(path, dtype=dtype) for path in paths]
        assert len(spy_calls) == len(paths)  # ... and not here
        spy_calls.clear()
        for (X_fast, y_fast, n_fast), (X_slow, y_slow, n_slow) in zip(fast, slow):
            assert X_fast.dtype == X_slow.dtype == dtype
            np.testing.assert_array_equal(X_fast, X_slow)
            assert y_fast.dtype == y_slow.dtype
            np.testing.assert_array_equal(y_fast, y_slow)
            assert n_fast == n_slow
    np.testing.assert_array_equal(fast[0][0], X.astype(np.float32))
    assert np.isnan(fast[2][0][0, 0]) and np.isinf(fast[2][0][1, 1])


def test_import_pandas_is_optional(monkeypatch):
    assert datasets._import_pandas() is sys.modules.get("pandas")
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes "import pandas" fail
    assert datasets._import_pandas() is None


def test_load_benchmark_without_pandas(tmp_path, monkeypatch):
    make_dataset(tmp_path, "magic04", [20])
    with_pandas = load_benchmark("magic04", data_home=tmp_path)
    monkeypatch.setattr(datasets, "_import_pandas", lambda: None)
    without = load_benchmark("magic04", data_home=tmp_path)
    np.testing.assert_array_equal(with_pandas.X_train, without.X_train)
    np.testing.assert_array_equal(with_pandas.y_test, without.y_test)


# --------------------------------------------------------------------------- OpenML
def fake_table(name, n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES[name]))
    X[:, 0] = np.arange(n)
    return X


def test_openml_source(tmp_path, monkeypatch):
    X = fake_table("ijcnn1")
    target = np.where(np.arange(40) % 3 == 0, 1.0, -1.0)  # numeric labels, as floats
    names = [f"f{i}" for i in range(22)]
    fake = FakeOpenML(data=X, target=target, feature_names=names)
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    X_before = X.copy()
    bunch = load_benchmark("ijcnn1", data_home=tmp_path, source="openml", random_state=1)
    assert fake.calls == [
        {"data_id": 1575, "as_frame": False, "parser": "auto", "data_home": str(tmp_path)}
    ]
    assert bunch.source == "openml" and "data_id=1575" in bunch.description
    assert "random 50 / 25 / 25" in bunch.description
    # an official-split dataset is split at random when it comes from OpenML
    assert (len(bunch.y_train), len(bunch.y_val), len(bunch.y_test)) == (20, 10, 20)
    train_ids, test_ids = recover_ids(bunch, np.arange(40))
    truth = (target == 1.0).astype(np.int64)
    np.testing.assert_array_equal(bunch.y_train, truth[train_ids])
    np.testing.assert_array_equal(bunch.y_test, truth[test_ids])
    assert bunch.feature_names == names
    np.testing.assert_array_equal(X, X_before)  # the fetched data is not modified


def test_openml_string_labels_and_sparse_data(tmp_path, monkeypatch):
    X = fake_table("magic04")
    target = np.array(["g", "h"] * 20, dtype=object)
    fake = FakeOpenML(data=sparse.csr_matrix(X), target=target, feature_names=None)
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    bunch = load_benchmark("magic04", data_home=tmp_path, source="openml")
    train_ids, _ = recover_ids(bunch, np.arange(40))
    np.testing.assert_array_equal(bunch.y_train, (train_ids % 2 == 0).astype(np.int64))
    assert bunch.feature_names == [f"x{i}" for i in range(10)]


def test_openml_feature_count_mismatch(tmp_path, monkeypatch):
    fake = FakeOpenML(data=np.ones((10, 17)), target=np.array(list("ABCDEFGHIJ")))
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    with pytest.raises(ValueError, match=r"data_id=6.*17 features.*16"):
        load_benchmark("letter", data_home=tmp_path, source="openml")


def test_openml_unmappable_labels(tmp_path, monkeypatch):
    fake = FakeOpenML(data=fake_table("eeg", n=10), target=np.array(["1", "2"] * 5))
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    with pytest.raises(ValueError, match=r"data_id=1471.*'2'.*cannot be mapped"):
        load_benchmark("eeg", data_home=tmp_path, source="auto")


def test_auto_prefers_local_files(tmp_path, monkeypatch):
    fake = FakeOpenML(data=fake_table("skin"), target=np.array(["1"] * 40))
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    make_dataset(tmp_path, "skin", [12])
    assert load_benchmark("skin", data_home=tmp_path).source == "local"
    assert fake.calls == []


def test_auto_falls_back_to_openml(tmp_path, monkeypatch):
    fake = FakeOpenML(data=fake_table("covtype"), target=np.arange(40) % 7 + 1)
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    bunch = load_benchmark("covtype", data_home=tmp_path)
    assert bunch.source == "openml" and len(fake.calls) == 1
    assert bunch.y_train.sum() + bunch.y_test.sum() == np.sum(np.arange(40) % 7 + 1 == 2)


def test_auto_reports_local_paths_and_openml_failure(tmp_path, monkeypatch):
    fake = FakeOpenML(error=OSError("Network is unreachable"))
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    with pytest.raises(FileNotFoundError) as error:
        load_benchmark("cod-rna", data_home=tmp_path, source="auto")
    message = str(error.value)
    assert str(tmp_path / "cod-rna-train.csv.gz") in message
    assert str(tmp_path / "cod-rna-test.csv.gz") in message
    assert "OSError: Network is unreachable" in message and "SKLEARN_AIMC_DATA" in message
    assert isinstance(error.value.__cause__, OSError)


def test_openml_source_propagates_fetch_error(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "fetch_openml", FakeOpenML(error=OSError("offline")))
    make_dataset(tmp_path, "skin", [12])  # local files are ignored with source="openml"
    with pytest.raises(OSError, match="offline"):
        load_benchmark("skin", data_home=tmp_path, source="openml")


# --------------------------------------------------------------------------- the paper's protocol
def zscore(X):
    """Each column minus its mean over std (population), constant columns centred only."""
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std == 0, 1.0, std)


def raw_rows(directory, name):
    """Features of each file of ``name`` as written, in file order."""
    return [load_csv(directory / filename)[0] for filename in FILES[name]]


def test_protocols_constant_and_bad_protocol(tmp_path):
    assert datasets.PROTOCOLS == ("default", "paper")
    make_dataset(tmp_path, "magic04", [20])
    with pytest.raises(ValueError, match="protocol must be one of"):
        load_benchmark("magic04", data_home=tmp_path, protocol="leaky")


@pytest.mark.parametrize("name", RANDOM)
def test_paper_random_split_zscores_the_whole_file(tmp_path, name):
    ((ids, _),) = make_dataset(tmp_path, name, [61])
    (raw,) = raw_rows(tmp_path, name)
    paper = load_benchmark(name, data_home=tmp_path, random_state=3, protocol="paper")
    default = load_benchmark(name, data_home=tmp_path, random_state=3)
    # same rows in the same parts: the split does not depend on the protocol
    np.testing.assert_array_equal(recover_ids(paper, ids)[0], recover_ids(default, ids)[0])
    np.testing.assert_array_equal(paper.y_test, default.y_test)
    # the features are the whole file's z-scores, so the parts together have mean 0, std 1
    train_ids, test_ids = recover_ids(paper, ids)
    whole = zscore(raw)
    np.testing.assert_allclose(paper.X_train, whole[train_ids], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(paper.X_test, whole[test_ids], rtol=1e-12, atol=1e-12)
    joined = np.concatenate([paper.X_train, paper.X_test])
    np.testing.assert_allclose(joined.mean(axis=0), 0.0, atol=1e-12)
    # the training part alone is not standardised (it is under the default protocol)
    assert np.abs(paper.X_train.mean(axis=0)).max() > 1e-3
    np.testing.assert_allclose(default.X_train.mean(axis=0), 0.0, atol=1e-12)
    assert "each file (or the single table) z-scored" in paper.DESCR


def test_paper_cod_rna_each_file_scaled_and_test_file_halved(tmp_path):
    raw_train, raw_test = write_cod_rna_with_shift(tmp_path)
    bunch = load_benchmark("cod-rna", data_home=tmp_path, protocol="paper")
    np.testing.assert_allclose(bunch.X_train, zscore(raw_train), rtol=1e-12, atol=1e-12)
    # the test file is z-scored with its own statistics, not the training file's
    np.testing.assert_allclose(bunch.X_test, zscore(raw_test), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bunch.X_test.mean(axis=0), 0.0, atol=1e-12)
    # 25 test rows: the first 12 are the validation half, and X_test joins both halves in order
    assert bunch.X_val.shape == (12, 8)
    np.testing.assert_array_equal(bunch.X_val, bunch.X_test[:12])
    np.testing.assert_array_equal(bunch.y_val, bunch.y_test[:12])
    assert bunch.X_test.shape == (25, 8)


def test_paper_ijcnn1_each_of_three_files_scaled(tmp_path):
    make_dataset(tmp_path, "ijcnn1", [20, 14, 16])
    raw_train, raw_val, raw_test = raw_rows(tmp_path, "ijcnn1")
    bunch = load_benchmark("ijcnn1", data_home=tmp_path, protocol="paper")
    np.testing.assert_allclose(bunch.X_train, zscore(raw_train), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bunch.X_val, zscore(raw_val), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bunch.X_test[14:], zscore(raw_test), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(bunch.X_test[:14], bunch.X_val)


def test_paper_letter_split_labels_and_scaling(tmp_path):
    ((ids, tokens),) = make_dataset(tmp_path, "letter", [20000])
    (raw,) = raw_rows(tmp_path, "letter")
    bunch = load_benchmark("letter", data_home=tmp_path, protocol="paper")
    got_train, got_test = recover_ids(bunch, ids)
    np.testing.assert_array_equal(got_train, np.arange(16000))
    np.testing.assert_array_equal(got_test, np.arange(16000, 20000))
    # the 4000 rows after the training rows split in half: validation then test
    assert bunch.X_val.shape == (2000, 16)
    np.testing.assert_array_equal(bunch.X_val, bunch.X_test[:2000])
    # one file, z-scored as a whole
    whole = zscore(raw)
    np.testing.assert_allclose(bunch.X_train, whole[:16000], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bunch.X_test, whole[16000:], rtol=1e-12, atol=1e-12)
    # odd positions in the alphabet (A = 1, C = 3, ...) are the positive class
    odd = np.array([(ord(token) - ord("A")) % 2 == 0 for token in tokens], dtype=np.int64)
    np.testing.assert_array_equal(bunch.y_train, odd[:16000])
    np.testing.assert_array_equal(bunch.y_test, odd[16000:])
    assert "odd positions" in bunch.DESCR


def test_paper_labels_of_the_registry():
    for name, info in DATASETS.items():
        positive, negative = info.labels("paper")
        assert positive.isdisjoint(negative)
        if name == "letter":
            assert positive == set("ACEGIKMOQSUWY") and negative == set("BDFHJLNPRTVXZ")
            assert info.labels() == (info.positive_labels, info.negative_labels)
        else:
            assert (positive, negative) == info.labels()
            assert info.label_rule_of("paper") == info.label_rule


def test_paper_protocol_with_openml(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    data = rng.normal(5.0, 3.0, size=(40, 10))
    fake = FakeOpenML(data=data, target=np.tile(["g", "h"], 20))
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    bunch = load_benchmark("magic04", data_home=tmp_path, source="openml", protocol="paper")
    joined = np.concatenate([bunch.X_train, bunch.X_test])
    np.testing.assert_allclose(np.sort(joined, axis=0), np.sort(zscore(data), axis=0), atol=1e-12)
    assert fake.bunch.data is data and np.array_equal(data, fake.bunch.data)  # not modified


def test_paper_float32(tmp_path):
    write_cod_rna_with_shift(tmp_path)
    b32 = load_benchmark("cod-rna", data_home=tmp_path, protocol="paper", dtype=np.float32)
    b64 = load_benchmark("cod-rna", data_home=tmp_path, protocol="paper")
    assert b32.X_train.dtype == np.float32 and b32.X_test.dtype == np.float32
    np.testing.assert_allclose(b32.X_test, b64.X_test, rtol=1e-6, atol=1e-6)
def test_load_minilm_qkv():
    from sklearn_aimc.datasets import load_minilm_qkv

    data = load_minilm_qkv()
    assert len(data.sentences) == len(data.tokens) == len(data.Q) == len(data.K) == len(data.V) == 6
    for tokens, Q, K, V in zip(data.tokens, data.Q, data.K, data.V):
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        for array in (Q, K, V):
            assert array.shape == (12, len(tokens), 32) and array.dtype == np.float32
            assert np.all(np.isfinite(array)) and array.flags.c_contiguous
        assert not np.allclose(Q, K)
    assert data.source["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data.source["model.safetensors sha256"].startswith("53aa5117")
    # The notice with the licence ships next to the data.
    from pathlib import Path

    import sklearn_aimc

    notice = (Path(sklearn_aimc.__file__).parent / "data" / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and "all-MiniLM-L6-v2" in notice

import numpy as np
import pytest

from sklearn_aimc.glyphs import GLYPH_SCRIPTS, iter_episodes, load_digit_images, load_glyphs, sample_episode


@pytest.fixture(scope="module")
def glyph_home(tmp_path_factory):
    return tmp_path_factory.mktemp("glyph_home")


def test_glyphs_split_by_script_and_cached_deterministically(glyph_home):
    train = load_glyphs("meta_train", n_samples_per_class=2, data_home=glyph_home)
    test = load_glyphs("meta_test", n_samples_per_class=2, data_home=glyph_home)
    assert list((glyph_home / "glyphs").glob("*.npz"))
    assert {GLYPH_SCRIPTS[s][1] for s in train.scripts} == {"meta_train"}
    assert {GLYPH_SCRIPTS[s][1] for s in test.scripts} == {"meta_test"}
    assert not set(train.characters) & set(test.characters)
    assert train.images.shape[1:] == (28, 28) and train.images.dtype == np.float32
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0
    assert np.array_equal(np.bincount(train.target), np.full(len(train.characters), 2))
    fresh = load_glyphs("meta_test", n_samples_per_class=2, cache=False)
    np.testing.assert_array_equal(fresh.images, test.images)
    other_seed = load_glyphs("meta_test", n_samples_per_class=2, random_state=1, cache=False)
    assert not np.array_equal(other_seed.images, test.images)


def test_glyph_samples_of_a_class_differ_but_resemble_each_other(glyph_home):
    data = load_glyphs("meta_test", n_samples_per_class=2, data_home=glyph_home)
    first, second = data.images[0::2].reshape(-1, 784), data.images[1::2].reshape(-1, 784)
    assert np.all(np.abs(first - second).sum(axis=1) > 0)
    same = np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(first, second)])
    other = np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(first, np.roll(second, 1, axis=0))])
    assert same > other + 0.2


def test_load_glyphs_rejects_bad_arguments():
    with pytest.raises(ValueError, match="subset"):
        load_glyphs("train", cache=False)
    with pytest.raises(ValueError, match="n_samples_per_class"):
        load_glyphs(n_samples_per_class=0, cache=False)


def test_digit_images_class_disjoint():
    train, test = load_digit_images("meta_train"), load_digit_images("meta_test")
    assert set(train.target) == {0, 1, 2, 3, 4} and set(test.target) == {5, 6, 7, 8, 9}
    assert train.images.shape[1:] == (8, 8) and train.images.max() <= 1.0


def test_sample_episode_shapes_classes_and_disjointness():
    y = np.repeat(np.arange(20), 10)
    support, query = sample_episode(y, 5, 3, 4, random_state=0)
    assert support.size == 15 and query.size == 20
    assert np.intersect1d(support, query).size == 0
    assert np.unique(y[support]).size == 5
    assert np.array_equal(np.unique(y[support]), np.unique(y[query]))
    assert np.all(np.bincount(y[support], minlength=20)[np.unique(y[support])] == 3)


def test_episodes_are_seeded():
    y = np.repeat(np.arange(20), 10)
    first = [np.concatenate(e) for e in iter_episodes(y, 5, 1, 1, 5, random_state=3)]
    again = [np.concatenate(e) for e in iter_episodes(y, 5, 1, 1, 5, random_state=3)]
    other = [np.concatenate(e) for e in iter_episodes(y, 5, 1, 1, 5, random_state=4)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    assert len({tuple(e) for e in first}) > 1


def test_sample_episode_rejects_too_few_classes():
    with pytest.raises(ValueError, match="5 classes"):
        sample_episode(np.repeat(np.arange(4), 10), 5, 1, 1)
    with pytest.raises(ValueError, match="n_shots"):
        sample_episode(np.repeat(np.arange(8), 10), 5, 0, 1)

"""Few-shot image data that needs no download: font glyphs of many scripts, and episodes.

Omniglot (Lake et al., Science 2015), the data set of the few-shot experiment
of Ortner et al. (Nat. Commun. 2025), cannot be downloaded here.
:func:`load_glyphs` builds an offline stand-in of the same shape: 28x28
grayscale characters of many scripts, rendered from the DejaVu fonts that
matplotlib ships, each sample drawn with its own small affine jitter (rotation,
scale, shear, shift) and stroke width (regular or bold face, optional
dilation), the classes split *by script* into meta-training and meta-testing
scripts as Omniglot's background and evaluation alphabets are.  Glyphs that
render identically in two scripts (Latin "A", Greek "Alpha", Cyrillic "A") are
kept once, in the first script listed, so no class crosses the split.

:func:`load_digit_images` gives scikit-learn's bundled 8x8 digits as images
with a class-disjoint split, a small real-data case, and
:func:`sample_episode` / :func:`iter_episodes` draw N-way K-shot episodes.
"""

import os
from pathlib import Path

import numpy as np
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state

from .datasets import _resolve_data_home

__all__ = ["GLYPH_SCRIPTS", "iter_episodes", "load_digit_images", "load_glyphs", "sample_episode"]

#: Scripts of the glyph set: name -> (Unicode code point ranges, split).
#: The meta-test scripts are never seen in meta-training.
GLYPH_SCRIPTS = {
    "latin": (((0x41, 0x5A), (0x61, 0x7A)), "meta_train"),
    "greek": (((0x391, 0x3A9), (0x3B1, 0x3C9)), "meta_train"),
    "cyrillic": (((0x410, 0x44F),), "meta_train"),
    "arabic": (((0x621, 0x64A),), "meta_train"),
    "ipa": (((0x250, 0x2AF),), "meta_train"),
    "math_operators": (((0x2200, 0x22FF),), "meta_train"),
    "geometric_shapes": (((0x25A0, 0x25FF),), "meta_train"),
    "armenian": (((0x531, 0x556), (0x561, 0x586)), "meta_test"),
    "georgian": (((0x10D0, 0x10FA),), "meta_test"),
    "hebrew": (((0x5D0, 0x5EA),), "meta_test"),
    "canadian_syllabics": (((0x1401, 0x1480),), "meta_test"),
    "arrows": (((0x2190, 0x21FF),), "meta_test"),
}

_IMAGE_SIZE = 28
_CANVAS = 64  # rendering canvas (pixels) before the jittered resampling to 28x28
_GLYPH_EXTENT = 20.0  # the larger side of a glyph's ink box, in output pixels, before jitter
_FONT_SIZE = 40
_CACHE_VERSION = 1


def _font_paths():
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


def _render(font, code_point):
    """The glyph's bitmap centred on its ink box in a canvas, or None when the font has no ink for it."""
    if font.get_char_index(code_point) == 0:
        return None
    font.set_text(chr(code_point))
    font.draw_glyphs_to_bitmap(antialiased=True)
    bitmap = np.asarray(font.get_image(), dtype=np.float64) / 255.0
    rows, cols = np.nonzero(bitmap > 0.1)
    if rows.size < 8:
        return None
    bitmap = bitmap[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    if max(bitmap.shape) > _CANVAS - 4:
        bitmap = ndimage.zoom(bitmap, (_CANVAS - 4) / max(bitmap.shape), order=1)
    canvas = np.zeros((_CANVAS, _CANVAS))
    top, left = (_CANVAS - bitmap.shape[0]) // 2, (_CANVAS - bitmap.shape[1]) // 2
    canvas[top:top + bitmap.shape[0], left:left + bitmap.shape[1]] = np.clip(bitmap, 0, 1)
    return canvas


def _glyph_templates():
    """Regular and bold canvases of every distinct glyph, with its script and character."""
    from matplotlib.ft2font import FT2Font

    fonts = [FT2Font(str(path)) for path in _font_paths()]
    for font in fonts:
        font.set_size(_FONT_SIZE, 72)
    templates, scripts, characters, seen = [], [], [], set()
    for script, (ranges, _) in GLYPH_SCRIPTS.items():
        for first, last in ranges:
            for code_point in range(first, last + 1):
                faces = [_render(font, code_point) for font in fonts]
                if any(face is None for face in faces):
                    continue
                signature = (ndimage.zoom(faces[0], 0.25, order=1) > 0.3).tobytes()
                if signature in seen:
                    continue
                seen.add(signature)
                templates.append(faces)
                scripts.append(script)
                characters.append(chr(code_point))
    return np.asarray(templates), np.asarray(scripts), np.asarray(characters)


def _ink_extent(templates):
    """Larger side of each template's ink box, in canvas pixels."""
    ink = templates > 0.1
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    height = rows.shape[1] - np.argmax(rows[:, ::-1], axis=1) - np.argmax(rows, axis=1)
    width = cols.shape[1] - np.argmax(cols[:, ::-1], axis=1) - np.argmax(cols, axis=1)
    return np.maximum(height, width).astype(np.float64)


def _jittered_images(templates, extents, class_of_sample, rng):
    """Resample each sample's template through its own random affine map onto 28x28 (vectorized)."""
    n = class_of_sample.size
    bold = rng.random(n) < 0.5
    sources = templates[class_of_sample, bold.astype(int)]
    dilate = rng.random(n) < 0.25
    if dilate.any():
        sources[dilate] = ndimage.grey_dilation(sources[dilate], footprint=np.ones((1, 3, 3), bool))
    angle = np.deg2rad(rng.uniform(-15, 15, n))
    shear = rng.uniform(-0.2, 0.2, n)
    zoom = rng.uniform(0.85, 1.15, n) * _GLYPH_EXTENT / np.maximum(extents[class_of_sample], 1.0)
    aspect = rng.uniform(0.9, 1.1, n)
    shift = rng.uniform(-1.5, 1.5, (n, 2))
    # Output pixel (r, c) -> canvas point: inverse of rotate(shear(scale(canvas))).
    cos, sin = np.cos(angle), np.sin(angle)
    forward = np.empty((n, 2, 2))
    forward[:, 0, 0], forward[:, 0, 1] = zoom * aspect * cos, zoom * (cos * shear - sin)
    forward[:, 1, 0], forward[:, 1, 1] = zoom * aspect * sin, zoom * (sin * shear + cos)
    inverse = np.linalg.inv(forward)
    grid = np.stack(np.meshgrid(np.arange(_IMAGE_SIZE), np.arange(_IMAGE_SIZE), indexing="ij"), axis=-1)
    centred = grid.reshape(1, -1, 2) - (_IMAGE_SIZE - 1) / 2 - shift[:, None, :]
    points = np.einsum("nij,npj->npi", inverse, centred) + (_CANVAS - 1) / 2
    sample = np.broadcast_to(np.arange(n)[:, None], points.shape[:2])
    coordinates = np.stack([sample, points[..., 0], points[..., 1]])
    images = ndimage.map_coordinates(sources, coordinates, order=1, mode="constant", cval=0.0)
    return np.clip(images.reshape(n, _IMAGE_SIZE, _IMAGE_SIZE), 0.0, 1.0)


def make_glyphs(n_samples_per_class=20, random_state=0):
    """Render the whole glyph set (both splits) in memory; see :func:`load_glyphs`."""
    rng = check_random_state(random_state)
    templates, scripts, characters = _glyph_templates()
    class_of_sample = np.repeat(np.arange(len(characters)), n_samples_per_class)
    images = _jittered_images(templates, _ink_extent(templates[:, 0]), class_of_sample, rng)
    return images.astype(np.float32), class_of_sample, scripts, characters


def _cache_path(data_home, n_samples_per_class, random_state):
    home = _resolve_data_home(data_home) / "glyphs"
    return home / f"glyphs_v{_CACHE_VERSION}_n{n_samples_per_class}_seed{random_state}.npz"


def load_glyphs(subset="meta_train", *, n_samples_per_class=20, random_state=0, data_home=None, cache=True):
    """Omniglot-like glyphs of many scripts, 28x28 in [0, 1], split by script.

    Each class is one character; each of its samples is the character drawn
    with its own random rotation (+-15 degrees), scale (0.85-1.15), aspect
    (0.9-1.1), shear (+-0.2), shift (+-1.5 pixels) and stroke (regular or bold
    DejaVu Sans face, dilated by one pixel with probability 1/4).  The scripts
    of each split are listed in :data:`GLYPH_SCRIPTS`.  The set is generated
    deterministically from ``random_state`` (in a few seconds) and cached as
    ``glyphs/*.npz`` under the data home (see
    :func:`sklearn_aimc.datasets.load_benchmark` for its location).

    Parameters
    ----------
    subset : {"meta_train", "meta_test", "all"}, default="meta_train"
        The scripts to return.
    n_samples_per_class : int, default=20
        Samples of every character (Omniglot has 20 drawers).
    random_state : int, default=0
        Seed of the jitter.
    data_home : str or path-like, default=None
        Cache directory; None is the package's data home.
    cache : bool, default=True
        Read and write the cache.  False always generates.

    Returns
    -------
    data : Bunch
        ``images`` (n, 28, 28) float32, ``target`` (n,) class index in
        ``0 ... n_classes - 1`` of the subset, ``characters`` (n_classes,)
        the character of each class, ``scripts`` (n_classes,) its script.

    Examples
    --------
    >>> from sklearn_aimc.glyphs import load_glyphs
    >>> data = load_glyphs("meta_test", n_samples_per_class=2, cache=False)
    >>> data.images.shape[1:], float(data.images.min()) >= 0.0, float(data.images.max()) <= 1.0
    ((28, 28), True, True)
    >>> sorted(set(data.scripts.tolist()))[:2]
    ['armenian', 'arrows']
    """
    if subset not in ("meta_train", "meta_test", "all"):
        raise ValueError(f"subset must be 'meta_train', 'meta_test' or 'all', got {subset!r}.")
    if int(n_samples_per_class) != n_samples_per_class or n_samples_per_class < 1:
        raise ValueError(f"n_samples_per_class must be a positive integer, got {n_samples_per_class!r}.")
    if not isinstance(random_state, (int, np.integer)):
        raise TypeError(f"random_state must be an integer seed (it names the cache), got {random_state!r}.")
    path = _cache_path(data_home, int(n_samples_per_class), int(random_state))
    if cache and path.is_file():
        with np.load(path) as stored:
            images, labels, scripts, characters = (stored[key] for key in ("images", "labels", "scripts", "chars"))
    else:
        images, labels, scripts, characters = make_glyphs(int(n_samples_per_class), int(random_state))
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez_compressed(partial, images=images, labels=labels, scripts=scripts, chars=characters)
            os.replace(partial, path)
    split = np.array([GLYPH_SCRIPTS[str(script)][1] for script in scripts])
    keep_class = np.ones(len(scripts), bool) if subset == "all" else split == subset
    new_index = np.cumsum(keep_class) - 1
    keep = keep_class[labels]
    return Bunch(
        images=images[keep], target=new_index[labels[keep]], characters=characters[keep_class],
        scripts=scripts[keep_class],
    )


def load_digit_images(subset="meta_train", *, meta_test_classes=(5, 6, 7, 8, 9)):
    """scikit-learn's bundled 8x8 digits as images in [0, 1], with a class-disjoint split.

    Parameters
    ----------
    subset : {"meta_train", "meta_test"}, default="meta_train"
    meta_test_classes : tuple of int, default=(5, 6, 7, 8, 9)
        Digits held out for meta-testing; the others are meta-training classes.

    Returns
    -------
    data : Bunch
        ``images`` (n, 8, 8) float32 and ``target`` (n,), the digit.

    Examples
    --------
    >>> from sklearn_aimc.glyphs import load_digit_images
    >>> sorted(set(load_digit_images("meta_test").target.tolist()))
    [5, 6, 7, 8, 9]
    """
    if subset not in ("meta_train", "meta_test"):
        raise ValueError(f"subset must be 'meta_train' or 'meta_test', got {subset!r}.")
    digits = load_digits()
    held_out = np.isin(digits.target, meta_test_classes)
    keep = held_out if subset == "meta_test" else ~held_out
    return Bunch(images=(digits.images[keep] / 16.0).astype(np.float32), target=digits.target[keep])


def _check_episode_sizes(y, n_ways, n_shots, n_queries):
    for name, value in (("n_ways", n_ways), ("n_shots", n_shots), ("n_queries", n_queries)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    eligible = classes[counts >= n_shots + n_queries]
    if eligible.size < n_ways:
        raise ValueError(
            f"An episode needs {n_ways} classes with at least n_shots + n_queries = {n_shots + n_queries} "
            f"samples; y has {eligible.size}."
        )
    return eligible


def sample_episode(y, n_ways, n_shots, n_queries, random_state=None):
    """Indices of one N-way K-shot episode: ``n_ways`` distinct classes, disjoint support and query samples.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class of every sample of the pool.
    n_ways, n_shots, n_queries : int
        Classes, support samples per class and query samples per class.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    support, query : ndarray of int
        Indices into ``y``, class by class (``n_ways * n_shots`` and
        ``n_ways * n_queries`` of them).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.glyphs import sample_episode
    >>> support, query = sample_episode(np.repeat(np.arange(10), 6), 5, 2, 3, random_state=0)
    >>> support.shape, query.shape, np.intersect1d(support, query).size
    ((10,), (15,), 0)
    """
    y = np.asarray(y)
    eligible = _check_episode_sizes(y, n_ways, n_shots, n_queries)
    rng = check_random_state(random_state)
    support, query = [], []
    for label in rng.choice(eligible, size=int(n_ways), replace=False):
        members = rng.permutation(np.flatnonzero(y == label))[: n_shots + n_queries]
        support.append(members[:n_shots])
        query.append(members[n_shots:])
    return np.concatenate(support), np.concatenate(query)


def iter_episodes(y, n_ways, n_shots, n_queries, n_episodes, random_state=None):
    """Yield ``n_episodes`` episodes of :func:`sample_episode` from one seed.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    n_ways, n_shots, n_queries : int
    n_episodes : int
    random_state : int, RandomState instance or None, default=None

    Yields
    ------
    support, query : ndarray of int

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.glyphs import iter_episodes
    >>> len(list(iter_episodes(np.repeat(np.arange(6), 4), 3, 1, 1, n_episodes=4, random_state=0)))
    4
    """
    rng = check_random_state(random_state)
    _check_episode_sizes(y, n_ways, n_shots, n_queries)
    for _ in range(int(n_episodes)):
        yield sample_episode(y, n_ways, n_shots, n_queries, random_state=rng)

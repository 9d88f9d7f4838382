"""Safe persistence of fitted estimators, the programmed chip included, with :mod:`skops.io`.

A fitted estimator holds its programmed chip (:class:`~sklearn_aimc.ProgrammedCrossbar`
and its parts: the device array, the converters, drift compensation, the read
engine, the counters) besides scikit-learn and numpy objects.  ``skops.io``
loads only the types the caller trusts; :func:`trusted_types` names the
package's own, and :func:`load` trusts those and refuses any other type it has
not been told to trust.  Loaded estimators give bit-identical outputs, reads at
another ``t_inference`` included.  Pickle works too (``pickle`` trusts
everything, so only load pickles you made).

Needs the optional ``skops`` extra (``pip install "sklearn-aimc[skops]"``).
"""

import importlib
import inspect
import pkgutil

__all__ = ["dump", "load", "trusted_types"]

# Modules whose classes never appear in a fitted estimator's state (the
# command line, the studies, the torch training code).
# Types of scikit-learn that skops does not trust by default but the package's estimators hold:
# the optimizer state of the MLPs (kept, as by scikit-learn's MLPs, for warm_start and partial_fit).
_HELD_SKLEARN_TYPES = (
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
)
_SKIPPED_PREFIXES = ("sklearn_aimc.experiments", "sklearn_aimc.torch", "sklearn_aimc.__main__")


def _skops_io():
    try:
        import skops.io
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "Saving and loading with skops needs the optional skops extra: pip install 'sklearn-aimc[skops]'."
        ) from exc
    return skops.io


def trusted_types():
    """Fully qualified names of the package's classes that a fitted estimator may hold.

    Returns
    -------
    names : list of str
        Sorted, e.g. ``"sklearn_aimc.crossbar.programmed.ProgrammedCrossbar"``.

    Examples
    --------
    >>> from sklearn_aimc.persistence import trusted_types
    >>> "sklearn_aimc.crossbar.programmed.ProgrammedCrossbar" in trusted_types()
    True
    """
    import sklearn_aimc

    names = set()
    for info in pkgutil.walk_packages(sklearn_aimc.__path__, "sklearn_aimc."):
        if info.name.startswith(_SKIPPED_PREFIXES):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name:
                names.add(f"{obj.__module__}.{obj.__qualname__}")
    return sorted(names)


def dump(estimator, file):
    """Save a (fitted) estimator with :func:`skops.io.dump`.

    Parameters
    ----------
    estimator : object
        E.g. a fitted pipeline of the package's estimators.
    file : str or path-like
    """
    _skops_io().dump(estimator, file)


def load(file, trusted=None):
    """Load an estimator saved by :func:`dump`, trusting the package's own types.

    Parameters
    ----------
    file : str or path-like
    trusted : list of str, default=None
        Further types to trust (of other packages in your pipeline).

    Returns
    -------
    estimator : object

    Raises
    ------
    TypeError
        If the file holds a type that is neither the package's, nor one
        skops trusts by default, nor the optimizer state of the package's
        MLPs (scikit-learn's ``SGDOptimizer`` / ``AdamOptimizer``), nor in ``trusted``: it is named, and nothing
        is constructed.
    """
    sio = _skops_io()
    allowed = set(trusted_types()) | set(_HELD_SKLEARN_TYPES) | set(trusted or ())
    untrusted = [name for name in sio.get_untrusted_types(file=file) if name not in allowed]
    if untrusted:
        raise TypeError(
            f"The file holds types that are not trusted: {untrusted}. Inspect them and pass the ones "
            "you trust as load(file, trusted=[...])."
        )
    return sio.load(file, trusted=sorted(allowed))

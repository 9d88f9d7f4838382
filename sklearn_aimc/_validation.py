"""Input checks shared across layers (times, finiteness)."""

from numbers import Real

import numpy as np

__all__ = ["check_seconds"]


def check_seconds(value, name):
    """``value`` as a float number of seconds, finite and non-negative.

    Parameters
    ----------
    value : object
        A real number of seconds.
    name : str
        Name of the parameter, used in the error message.

    Returns
    -------
    seconds : float

    Raises
    ------
    ValueError
        If ``value`` is not a finite real number >= 0 (booleans and strings are rejected).
    """
    if not isinstance(value, Real) or isinstance(value, bool) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}.")
    return float(value)

"""The ``device`` parameter of the estimators: resolution and consistency checks."""

from sklearn.base import BaseEstimator

from .crossbar import check_device

__all__ = ["check_device_unchanged", "device_has_read_noise"]


def _configuration(crossbar):
    """Every parameter of a crossbar but the read time, nested ones flattened."""
    return {
        name: value
        for name, value in crossbar.get_params(deep=True).items()
        if name != "t_inference" and not isinstance(value, BaseEstimator)
    }


def check_device_unchanged(device, programmed):
    """Read time of ``device``, after checking it still describes ``programmed``.

    Only ``t_inference`` may change between fit and transform / predict: it
    reads the same programmed chip at another time.  Any other change would
    need reprogramming, so it raises instead of being silently ignored.

    Parameters
    ----------
    device : {"hermes", "ideal"} or AnalogCrossbar
        The estimator's current ``device`` parameter.
    programmed : ProgrammedCrossbar
        The chip programmed at fit time.

    Returns
    -------
    t_inference : float
    """
    crossbar = check_device(device)
    if _configuration(crossbar) != _configuration(programmed.crossbar):
        raise ValueError(
            "The device parameters changed since fit; only device__t_inference can change "
            "without reprogramming. Call fit again to program the new configuration."
        )
    return crossbar.t_inference


def device_has_read_noise(device):
    """True when reads of ``device`` carry per-read noise (outputs then depend on
    how rows are batched, so scikit-learn's sample-order checks do not apply)."""
    try:
        crossbar = check_device(device)
    except ValueError:
        return False
    return crossbar.output_noise > 0 and not crossbar.is_exact

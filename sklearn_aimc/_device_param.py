"""The ``device`` parameter of the estimators: resolution and consistency checks."""

from sklearn.base import BaseEstimator

from .crossbar import check_device

__all__ = ["DeviceParamMixin", "check_device_unchanged"]


class DeviceParamMixin:
    """Nested ``device__<param>`` parameters also reach a device given by name.

    With ``device="hermes"`` (the default) or ``"ideal"``,
    ``set_params(device__t_inference=...)`` or a grid over
    ``device__adc_bits`` first replaces the name by the configuration it
    stands for (:func:`~sklearn_aimc.crossbar.check_device`), then sets the
    nested parameter on it.
    """

    def set_params(self, **params):
        """Set the parameters of this estimator, nested device parameters included.

        Parameters
        ----------
        **params : dict
            Estimator parameters, and ``device__<param>`` parameters of the
            device (given by name or as an ``AnalogCrossbar``).

        Returns
        -------
        self : estimator instance
        """
        if any(name.startswith("device__") for name in params):
            device = params.get("device", getattr(self, "device", None))
            if isinstance(device, str):
                params = {**params, "device": check_device(device)}
        return super().set_params(**params)


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

"""Warnings of sklearn-aimc."""

__all__ = ["AnalogClippingWarning"]


class AnalogClippingWarning(UserWarning):
    """An unusual share of a batch fell outside a calibrated converter range.

    Raised at most once per read (and shown once per call site by Python's
    default filter) when the inputs clip at the DACs or the outputs saturate
    the ADCs much more often than the calibration percentile implies.  The
    clipped values are counted in :class:`~sklearn_aimc.crossbar.WorkCounters`
    either way.
    """

"""Warnings of sklearn-aimc."""

__all__ = ["AnalogCalibrationWarning", "AnalogClippingWarning"]


class AnalogClippingWarning(UserWarning):
    """An unusual share of the values read fell outside a calibrated converter range.

    Raised at most once per programmed chip (so once per fitted estimator),
    from the running count of its reads, when the inputs clip at the DACs or
    the outputs saturate the ADCs much more often than the calibration
    percentile implies.  The clipped values are counted in
    :class:`~sklearn_aimc.crossbar.WorkCounters` either way.
    """


class AnalogCalibrationWarning(UserWarning):
    """A calibrated converter range leaves most values a handful of levels.

    Raised by calibration when half of the non-zero calibration values of a
    DAC or ADC lie below 2 code steps, typically because a few outliers set
    the range; the bulk of the data then quantises to almost nothing.
    ``AnalogCrossbar(calibration="mse")`` calibrates ranges robustly.
    """

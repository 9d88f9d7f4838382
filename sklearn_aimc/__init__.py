"""sklearn-aimc: analog in-memory computing for scikit-learn.

Random-feature kernel methods and ridge readouts whose matrix-vector products
run on a simulated phase-change-memory crossbar (the IBM HERMES chip by
default), with a fixed-point near-memory digital stage.
"""

from .attention import AnalogKernelAttention
from .cost import estimate_cost
from .crossbar import AnalogCrossbar, ProgrammedCrossbar, WorkCounters
from .device import GenericPCM, HermesPCM, IdealPCM, PCMModel
from .exceptions import AnalogClippingWarning
from .few_shot import AnalogFewShotClassifier
from .fixedpoint import FixedPointFormat, FP16Unit, NearMemoryUnit
from .kernel_approx import AnalogArcCosineFeatures, AnalogRandomFourierFeatures, AnalogSoftmaxFeatures
from .mlp import AnalogMLPClassifier, AnalogMLPRegressor
from .ridge import AnalogRidge, AnalogRidgeClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "AnalogArcCosineFeatures",
    "AnalogClippingWarning",
    "AnalogCrossbar",
    "AnalogFewShotClassifier",
    "AnalogKernelAttention",
    "AnalogMLPClassifier",
    "AnalogMLPRegressor",
    "AnalogRandomFourierFeatures",
    "AnalogRidge",
    "AnalogRidgeClassifier",
    "AnalogSoftmaxFeatures",
    "FP16Unit",
    "FixedPointFormat",
    "GenericPCM",
    "HermesPCM",
    "IdealPCM",
    "NearMemoryUnit",
    "PCMModel",
    "ProgrammedCrossbar",
    "WorkCounters",
    "estimate_cost",
]

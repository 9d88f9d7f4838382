"""
=========================================================
Fixed-point near-memory unit versus float post-processing
=========================================================

After the ADCs, every column of a HERMES core goes through a small digital
unit that applies a per-column affine correction ``y = a x + b`` (gain,
offset, drift compensation, folded batch-norm).  Ferro et al. (ISCAS 2024)
replaced its FP16 arithmetic by fixed point: by default the scale ``a`` is
stored as unsigned ``UQ1.7`` (1 integer, 7 fractional bits) and the offset
``b`` as signed ``SQ7.1``, each group of columns sharing one power-of-two
exponent.

:class:`~sklearn_aimc.NearMemoryUnit` models that datapath bit-exactly on
integers.  This example measures how far it is from exact floating-point
post-processing as a function of the number of fractional bits of the scale
register - first on the unit alone, then at the output of a whole simulated
crossbar, where it competes with the analog errors.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sklearn_aimc import AnalogCrossbar, FixedPointFormat, NearMemoryUnit

print("default formats:", NearMemoryUnit().scale_format, NearMemoryUnit().offset_format)

# %%
# The unit alone
# --------------
# 8-bit ADC codes (-127 ... 127) for 256 columns, with scales between 0.2 and 2
# and offsets between -20 and 20.  :meth:`~sklearn_aimc.NearMemoryUnit.encode`
# quantises the coefficients into the registers,
# :meth:`~sklearn_aimc.NearMemoryUnit.apply` runs the integer datapath, and
# :meth:`~sklearn_aimc.NearMemoryUnit.apply_float` is the floating-point
# reference.  The error is the relative RMS error of the outputs.

rng = np.random.default_rng(0)
codes = rng.integers(-127, 128, size=(2000, 256))
scale = rng.uniform(0.2, 2.0, size=256)
offset = rng.uniform(-20.0, 20.0, size=256)
reference = NearMemoryUnit().apply_float(codes, scale, offset)


def unit_error(nmpu):
    coefficients = nmpu.encode(scale, offset, random_state=0)
    y = nmpu.to_float(nmpu.apply(codes, coefficients, random_state=0), coefficients)
    return np.linalg.norm(y - reference) / np.linalg.norm(reference)


fractional_bits = np.arange(1, 13)
curves = {}
for rounding in ("half_even", "floor", "stochastic"):
    curves[f"offset SQ7.1, {rounding}"] = [
        unit_error(
            NearMemoryUnit(
                scale_format=FixedPointFormat(1, int(f), signed=False), rounding=rounding
            )
        )
        for f in fractional_bits
    ]
curves["offset SQ7.8, half_even"] = [
    unit_error(
        NearMemoryUnit(
            scale_format=FixedPointFormat(1, int(f), signed=False),
            offset_format=FixedPointFormat(7, 8),
        )
    )
    for f in fractional_bits
]

# %%
# The whole crossbar
# ------------------
# A 128 x 256 matrix programmed on the HERMES preset, read with the NMPU for
# each scale format and with ``post_processing="float"``; the error is relative to the
# exact product ``X @ W``.  A second chip has ideal devices (no programming
# noise, drift or read noise) and no output noise, but keeps the 8-bit DAC and
# ADC, so that only quantisation remains.

W = rng.standard_normal((128, 256))
X = rng.standard_normal((2000, 128))
exact = X @ W
presets = {
    "HERMES": {},
    "ideal devices, 8-bit DAC/ADC": dict(pcm="ideal", output_noise=0.0, drift_compensation=None),
}


def chip_error(nmpu, **params):
    stage = dict(post_processing="float") if nmpu == "float" else dict(nmpu=nmpu)
    chip = AnalogCrossbar(**stage, **params).program(W, calibration_inputs=X, random_state=0)
    return np.linalg.norm(chip.matmul(X) - exact) / np.linalg.norm(exact)


chip_curves, float_levels = {}, {}
for name, params in presets.items():
    chip_curves[name] = [
        chip_error(NearMemoryUnit(scale_format=FixedPointFormat(1, int(f), signed=False)), **params)
        for f in fractional_bits
    ]
    float_levels[name] = chip_error("float", **params)
    print(f"{name}: MVM error with float post-processing {float_levels[name]:.4f}, "
          f"with the default NMPU (UQ1.7) {chip_curves[name][6]:.4f}")

# %%
# Plot: the unit's own error (left) and the error at the crossbar output
# (right); dashed lines are the float post-processing of the same chips.  The
# vertical line marks the default ``UQ1.7``.

fig, axes = plt.subplots(1, 2, figsize=(12, 4.3), layout="constrained")
for label, curve in curves.items():
    axes[0].plot(fractional_bits, curve, marker="o", markersize=3, label=label)
axes[0].set(title="NMPU vs float, unit alone", ylabel="relative RMS error of y = a x + b")
for (name, curve), color in zip(chip_curves.items(), ("tab:red", "tab:blue")):
    axes[1].plot(fractional_bits, curve, marker="o", markersize=3, color=color, label=f"{name}, NMPU")
    axes[1].axhline(float_levels[name], color=color, linestyle="--", label=f"{name}, float")
axes[1].set(title="crossbar output vs exact X @ W", ylabel="relative error of the MVM")
for ax in axes:
    ax.axvline(7, color="grey", linestyle=":")
    ax.set(xlabel="fractional bits of the scale register (UQ1.f)", yscale="log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
plt.show()

# %%
# Reading the plot
# ----------------
# * On the unit alone, every fractional bit of the scale halves the error
#   until the offset register's half-unit step (``SQ7.1``) dominates; a finer
#   offset format pushes that floor down.  Truncation (``"floor"``) is biased
#   and about twice as far off as rounding to nearest; stochastic rounding is
#   unbiased but noisier.
# * At the crossbar output, the NMPU's error adds to the analog and
#   quantisation errors.  With HERMES devices the analog error is so large
#   that three or four fractional bits are already enough; with ideal devices
#   the 8-bit converters set the floor, and the default ``UQ1.7`` sits on it.
#   A narrow fixed-point unit is enough to replace floating-point
#   post-processing.

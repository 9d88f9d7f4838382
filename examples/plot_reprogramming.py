"""
Reprogramming part of a chip: old and new devices drift from their own write
============================================================================

A matrix is programmed on the simulated HERMES chip at chip time 0.  A day
later, a quarter of its columns is rewritten with
:meth:`~sklearn_aimc.ProgrammedCrossbar.reprogram`: only the devices of the
weights that change are written, with fresh programming noise and drift
exponents, and each device then drifts from its own programming time.

We read the chip from one minute after the rewrite to a year and follow, for
the old and the new columns, the conductance they hold relative to right after
their write.  Drift follows a power law of each device's own age, so the new
devices lose fast at first and then age like the old ones.  The chip's global
drift compensation measures the whole tile at once and corrects both groups by
one gain: set by the old devices' loss, it over-corrects the fresh columns by
about a fifth right after the rewrite, until both groups have aged alike.
``drift_compensation="per_column"`` measures every column on its own.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sklearn_aimc import AnalogCrossbar

rng = np.random.default_rng(0)
W = rng.standard_normal((128, 64))
X = rng.standard_normal((500, 128))
chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)

DAY = 86_400.0
new_columns = np.arange(64) < 16


def held(t, columns):
    """Conductance of all devices of the given columns at chip time t (uS)."""
    return chip.conductances(t).sum(axis=(0, 1))[:, columns].sum()


written_old = held(0.0, ~new_columns)  # right after the first programming
W_new = W.copy()
W_new[:, new_columns] = rng.standard_normal((128, 16))
n_written = chip.reprogram(W_new, at=DAY)
print(f"devices written: {n_written} of {chip.counters.device_writes} in all "
      f"({new_columns.mean():.0%} of the columns, 4 devices per weight)")
print(f"estimated programming time, all writes: {chip.counters.programming_seconds:.2f} s")
written_new = held(DAY, new_columns)  # right after the rewrite

# %%
# The conductance each group holds, relative to its devices right after their
# write (summed over both polarities of every weight), from just after the
# rewrite to a year later.  A read may not precede the latest write.
times = DAY * np.geomspace(1 + 1 / 1440, 360, 25)
old = np.array([held(t, ~new_columns) / written_old for t in times])
new = np.array([held(t, new_columns) / written_new for t in times])

# %%
# The weights the chip realises with drift compensation, relative to the
# targets, for the same two groups.
realised = np.array([chip.effective_weights(t) for t in times])


def weight_scale(columns):
    return (realised[:, :, columns] * W_new[:, columns]).sum(axis=(1, 2)) / (W_new[:, columns] ** 2).sum()


fig, (ax_g, ax_w) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
for ax in (ax_g, ax_w):
    ax.set_xscale("log")
    ax.set_xlabel("chip time (days since the first programming)")
    ax.axvline(1.0, color="grey", linestyle=":", label="rewrite of 16 columns")
ax_g.plot(times / DAY, old, label="old columns (written at 0)")
ax_g.plot(times / DAY, new, label="new columns (written at 1 day)")
ax_g.set_ylabel("conductance / conductance after the write")
ax_g.set_title("Drift: each device ages from its own write")
ax_w.plot(times / DAY, weight_scale(~new_columns), label="old columns")
ax_w.plot(times / DAY, weight_scale(new_columns), label="new columns")
ax_w.axhline(1.0, color="black", linewidth=0.5)
ax_w.set_ylabel("realised weight scale (with global drift compensation)")
ax_w.set_title("One compensation gain per tile")
ax_g.legend()
ax_w.legend()
plt.show()

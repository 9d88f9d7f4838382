"""
==========================================
Published PCM device curves, and a check
==========================================

The device models of :mod:`sklearn_aimc.device` are statistical fits measured
on real phase-change-memory (PCM) devices.  Each one is a set of curves against
the target conductance ``g``:

* the standard deviation of the programming error, ``programming_std(g)``;
* the mean and standard deviation of the drift exponent ``nu``,
  ``drift_exponent_mean(g)`` and ``drift_exponent_std(g)``;
* the coefficient ``Q_s(g)`` of the 1/f read noise accumulated since
  programming, ``read_noise_coefficient(g)``.

This example draws the curves of the three published fits - the HERMES chip
with one and with two devices per polarity, and the generic PCM model - and
then checks by Monte Carlo that :meth:`~sklearn_aimc.HermesPCM.program` and
:meth:`~sklearn_aimc.HermesPCM.at_time` sample from them.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sklearn_aimc import GenericPCM, HermesPCM

models = {
    "HermesPCM(num_devices=1)": HermesPCM(num_devices=1),
    "HermesPCM(num_devices=2)": HermesPCM(num_devices=2),
    "GenericPCM()": GenericPCM(),
}
for name, pcm in models.items():
    print(f"{name:26s} g_max = {pcm.g_max:5.2f} uS, t0 = {pcm.t0:5.0f} s, t_read = {pcm.t_read:.3g} s")

# %%
# The curves
# ----------
# Each model is drawn over its own conductance range ``[0, g_max]``: the
# two-device HERMES fit describes a pair of devices programmed together, so its
# range is twice that of a single device.  The band around the drift-exponent
# mean is one standard deviation.

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
for name, pcm in models.items():
    g = np.linspace(0.0, pcm.g_max, 400)
    axes[0].plot(g, pcm.programming_std(g), label=name)
    mean, std = pcm.drift_exponent_mean(g), pcm.drift_exponent_std(g)
    (line,) = axes[1].plot(g, mean, label=name)
    axes[1].fill_between(g, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    axes[2].plot(g, pcm.read_noise_coefficient(g), label=name)

axes[0].set(title="programming noise", ylabel="std of programmed g (uS)")
axes[1].set(title="drift exponent nu (mean +- std)", ylabel="nu")
axes[2].set(title="read-noise coefficient", ylabel="Q_s", yscale="log")
for ax in axes:
    ax.set_xlabel("target conductance g (uS)")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize="small")
plt.show()

# %%
# Monte-Carlo check
# -----------------
# Program 20 000 devices of the default HERMES model (two devices per
# polarity) at each of a few target conductances and compare the sample
# statistics with the curves.
#
# * The programmed conductances are clamped at 0 uS, so the targets start at
#   20 % of ``g_max``, five standard deviations of programming noise above 0,
#   where the clamp does not shorten the spread.
# * A drift exponent is drawn as ``|mean + std * xi|`` (a folded normal); for
#   these targets the mean is several standard deviations above zero, so the
#   fold leaves both moments unchanged.
# * The read noise is checked at one day after programming with drift switched
#   off (``drift_scale=0``), so that ``(g(t) - g_prog) / g_prog`` has standard
#   deviation ``Q_s(g_prog) * sqrt(ln((t + t0 + t_read) / (2 t_read)))``.

pcm = HermesPCM(num_devices=2)
targets = np.linspace(0.2, 1.0, 9) * pcm.g_max
n_devices = 20_000
g_target = np.repeat(targets[:, None], n_devices, axis=1)
g_prog, nu = pcm.program(g_target, random_state=0)

t = 86_400.0
no_drift = HermesPCM(num_devices=2, drift_scale=0.0)
g_day = no_drift.at_time(g_prog, nu, t, random_state=1)
growth = np.sqrt(np.log((t + pcm.t0 + pcm.t_read) / (2 * pcm.t_read)))
relative_read_noise = (g_day - g_prog) / g_prog / growth

g = np.linspace(0.05, 1.0, 200) * pcm.g_max
checks = [
    ("programming std (uS)", pcm.programming_std(g), g_prog.std(axis=1)),
    ("drift exponent mean", pcm.drift_exponent_mean(g), nu.mean(axis=1)),
    ("drift exponent std", pcm.drift_exponent_std(g), nu.std(axis=1)),
    (
        "read-noise coefficient Q_s",
        pcm.read_noise_coefficient(g),
        relative_read_noise.std(axis=1),
    ),
]

fig, axes = plt.subplots(1, 4, figsize=(14, 3.5), layout="constrained")
for ax, (title, curve, sample) in zip(axes, checks):
    ax.plot(g, curve, color="tab:orange", label="published curve")
    ax.plot(targets, sample, "o", color="black", markersize=4, label="Monte Carlo")
    ax.set(title=title, xlabel="target conductance g (uS)")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize="small")
fig.suptitle("HermesPCM(num_devices=2): 20 000 devices per target")
plt.show()

# %%
# The largest relative deviation between the samples and the curves is at the
# level of the Monte-Carlo error (about ``1 / sqrt(2 * 20000)``, i.e. 0.5 %,
# for a standard deviation).

for title, _, sample in checks:
    if title.startswith("programming"):
        expected = pcm.programming_std(targets)
    elif title.endswith("mean"):
        expected = pcm.drift_exponent_mean(targets)
    elif title.startswith("drift"):
        expected = pcm.drift_exponent_std(targets)
    else:
        # Q_s is evaluated at the programmed conductance, which is spread
        # around the target: compare with the average over the devices.
        expected = np.sqrt((pcm.read_noise_coefficient(g_prog) ** 2).mean(axis=1))
    deviation = np.max(np.abs(sample / expected - 1))
    print(f"{title:28s} largest relative deviation {deviation:.2%}")

# %%
# Drift over time
# ---------------
# Reading the same programmed devices later gives lower conductances: the
# power law ``g_prog ((t + t0) / t0) ** -nu`` with a fresh draw of the
# accumulated read noise at every time.  Low conductances drift faster (their
# drift exponent is larger), which is why the crossbar needs drift compensation
# (see :ref:`sphx_glr_auto_examples_plot_drift.py`).

times = np.logspace(0, np.log10(360 * 86_400), 30)
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for fraction in (0.1, 0.3, 1.0):
    g_prog, nu = pcm.program(np.full(5_000, fraction * pcm.g_max), random_state=2)
    mean = [pcm.at_time(g_prog, nu, t, random_state=3).mean() for t in times]
    ax.plot(times, np.asarray(mean) / g_prog.mean(), label=f"target {fraction:.0%} of g_max")
ax.set(
    xscale="log",
    xlabel="time since programming (s)",
    ylabel="mean g(t) / mean g_prog",
    title="HermesPCM(num_devices=2): drift",
)
ax.grid(alpha=0.3)
ax.legend()
plt.show()

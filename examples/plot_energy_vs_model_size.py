"""
===================================================
Energy per inference against model size
===================================================

:func:`~sklearn_aimc.estimate_cost` counts the work of processing data on
the simulated chip - core MVMs from the programmed crossbars' tiling,
conversions, the near-memory unit, the estimators' digital functions, SRAM
traffic - and the same work on a digital baseline (8-bit MACs, FP16 scaling,
SRAM weight fetches), with the sources of every figure: HERMES' measured
13.4 nJ per 256 x 256 core MVM (14 nm, 1-phase) and Horowitz's 45 nm
per-operation energies.

This example prices one inference (one row) of random Fourier features as the
number of projections grows, for inputs that fill the 256 rows of a core and
for 30 inputs that fill an eighth of them.  The chips are programmed with
ideal devices, which changes nothing in the cost (the tiling is the same) and
keeps the example fast.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sklearn_aimc import AnalogRandomFourierFeatures, estimate_cost

rng = np.random.default_rng(0)
n_projections = 2 ** np.arange(4, 15)  # 16 ... 16384 crossbar columns
input_sizes = (256, 30)


def cost_per_inference(n_features, n_components):
    X = rng.standard_normal((8, n_features))
    features = AnalogRandomFourierFeatures(n_components, device="ideal", random_state=0).fit(X)
    table = estimate_cost(features, X[:1], as_frame=False)
    rows = dict(zip(table["part"], range(len(table["part"]))))
    return {
        "chip": table["chip energy (J)"][rows["total"]],
        "digital": table["digital energy (J)"][rows["total"]],
        "chip MVM": table["chip energy (J)"][rows["analog MVM"]],
        "digital MVM": table["digital energy (J)"][rows["analog MVM"]]
        + table["digital energy (J)"][rows["data movement"]],
        "functions": table["chip energy (J)"][rows["digital"]],
    }


results = {d: [cost_per_inference(d, int(s)) for s in n_projections] for d in input_sizes}

print(f"{'inputs':>6} {'projections':>11} {'weights':>9} {'chip (nJ)':>10} {'digital (nJ)':>12} {'ratio':>6}")
for d, costs in results.items():
    for s, cost in zip(n_projections, costs):
        print(f"{d:6d} {s:11d} {d * s:9d} {cost['chip'] * 1e9:10.1f} {cost['digital'] * 1e9:12.1f} "
              f"{cost['digital'] / cost['chip']:6.2f}")

# %%
# Plot: total energy per inference (solid) and the matrix part alone -
# core MVMs on the chip, MACs with their input, output and weight traffic on
# the baseline (dashed) - against the number of weights.  The dotted line is
# the digital functions (cos / sin of every projection), the same on both.

fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained", sharey=True)
for ax, (d, costs) in zip(axes, results.items()):
    weights = d * n_projections
    for key, color in (("chip", "tab:red"), ("digital", "tab:blue")):
        ax.plot(weights, [c[key] for c in costs], marker="o", markersize=3, color=color,
                label=f"{'HERMES chip' if key == 'chip' else 'digital baseline'}, total")
        ax.plot(weights, [c[f"{key} MVM"] for c in costs], linestyle="--", color=color,
                label=f"{'core MVMs' if key == 'chip' else 'MACs + SRAM'}")
    ax.plot(weights, [c["functions"] for c in costs], linestyle=":", color="grey", label="cos / sin (both)")
    ax.set(title=f"{d} inputs ({d / 256:.0%} of a core's rows)", xscale="log", yscale="log",
           xlabel="weights (inputs x projections)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
axes[0].set(ylabel="energy per inference (J)")
plt.show()

# %%
# How much cheaper would digital operations have to be?
# -----------------------------------------------------
# The digital figures are Horowitz's 45 nm ones; the chip is 14 nm.  The
# model applies no scaling of its own (none is built in; pass
# ``digital_energy_scale``), so here is the factor by which every digital
# energy would have to shrink for the baseline's matrix part to cost what the
# chip's core MVMs cost - a property of the model's numbers, not a scaling
# claim.

for d, costs in results.items():
    big = costs[-1]
    print(f"{d} inputs, {n_projections[-1]} projections: digital matrix work / chip core MVMs = "
          f"{big['digital MVM'] / big['chip MVM']:.2f}")

# %%
# Reading the plot
# ----------------
# * Each core MVM costs 13.4 nJ however few of its 256 x 256 cells are used,
#   so the chip's energy moves in steps of whole tiles; the digital baseline
#   pays per weight.  With 256 inputs every tile is full and the chip needs
#   about 7x less energy for the matrix than the baseline, most of whose cost
#   is fetching weights from SRAM (1.25 pJ per 8-bit weight against 0.3 pJ
#   for the MAC).  With 30 inputs the tiles are an eighth full and the two
#   are about even.
# * The digital functions do not shrink on the chip: a cos / sin pair (14
#   FP32 multiplications and 14 additions) and two scalings cost 72 pJ per
#   projection, about 1.4 times a full core MVM's share of one projection
#   (13.4 nJ / 256 = 52 pJ).  On a chip of full tiles they are the larger
#   part of the total, so the totals differ far less (3.7x) than the matrix
#   parts (7.6x).  Below one tile's worth of projections, the chip pays for
#   a whole core MVM and the baseline is cheaper.
# * The comparison sets a 14 nm chip against 45 nm digital figures; see
#   :doc:`/user_guide/cost_model` for what the model includes and what not.

"""
====================================================
An MLP on the chip: FP16 unit, fixed-point NMPU, age
====================================================

:class:`~sklearn_aimc.AnalogMLPClassifier` trains exactly like scikit-learn's
:class:`~sklearn.neural_network.MLPClassifier`, then programs every layer on
the simulated HERMES chip: weights on PCM devices, bias and ReLU in the
post-processing unit after the ADCs, 8-bit inputs to each layer.  This
example trains one 64x32 MLP on the digits and reads it with the two
post-processing units of Ferro et al. (ISCAS 2024), the FP16 unit and the
fixed-point near-memory unit (NMPU), from one second to one year after
programming (the same chips read at later times: conductance drift, with
the chip's global drift compensation).  The full comparison over seeds and
data sets is ``python -m sklearn_aimc nmpu``.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_aimc import AnalogCrossbar, AnalogMLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, train_size=0.5, stratify=y, random_state=0)
params = dict(hidden_layer_sizes=(64, 32), max_iter=300, random_state=0)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    float_accuracy = AnalogMLPClassifier(**params, device="ideal").fit(X_train, y_train).score(X_test, y_test)
    chips = {
        unit: AnalogMLPClassifier(**params, device=AnalogCrossbar(post_processing=unit)).fit(X_train, y_train)
        for unit in ("fp16", "fixed")
    }

# %%
# Each fitted model reads its programmed chips at later times through the
# nested ``device__t_inference`` parameter: no reprogramming.
times = np.array([1.0, 60.0, 3600.0, 86400.0, 30 * 86400.0, 365 * 86400.0])
accuracy = {
    unit: [model.set_params(device__t_inference=t).score(X_test, y_test) for t in times]
    for unit, model in chips.items()
}

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.axhline(100 * float_accuracy, color="k", linestyle=":", label="float")
for unit, label in (("fp16", "chip + FP16 unit"), ("fixed", "chip + fixed-point NMPU")):
    ax.plot(times, 100 * np.array(accuracy[unit]), marker="o", label=label)
ax.set_xscale("log")
ax.set_xlabel("time after programming (s)")
ax.set_ylabel("test accuracy (%)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
for unit in chips:
    print(unit, " ".join(f"{100 * a:.1f}" for a in accuracy[unit]))

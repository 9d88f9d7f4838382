"""
Few-shot learning on the chip: MAML-trained readout adapted with 1/16 updates
=============================================================================

The few-shot network of Ortner et al. (2025) is meta-trained with MAML in
software (PyTorch) on the digits 0-4 of scikit-learn's bundled set, then
adapted to 5-way 5-shot tasks of the unseen digits 5-9.  Each task is learnt
three ways: in software with float updates, in software with updates rounded
stochastically to 1/16, and on the simulated HERMES chip, where the
convolutions and the readout live on crossbars and each of the 4 inner steps
rewrites only the devices of the readout weights that change.

A tiny network and a short meta-training keep this example at a few seconds;
``python -m sklearn_aimc few-shot`` runs the full comparison.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from sklearn_aimc import AnalogFewShotClassifier
from sklearn_aimc.glyphs import iter_episodes, load_digit_images

torch.set_num_threads(1)
train, test = load_digit_images("meta_train"), load_digit_images("meta_test")
meta = AnalogFewShotClassifier(channels=16, meta_iterations=150, meta_batch_size=8, outer_lr=3e-3, random_state=0)
meta.meta_fit(train.images, train.target)

models = {"software, float updates": ("ideal", None), "software, 1/16 updates": ("ideal", 1 / 16),
          "HERMES chip, 1/16 updates": ("hermes", 1 / 16)}
labels = np.repeat(np.arange(5), 5)
accuracy = {name: [] for name in models}
writes = []
for task, (support, query) in enumerate(iter_episodes(test.target, 5, 5, 5, n_episodes=20, random_state=1)):
    for name, (device, resolution) in models.items():
        clf = AnalogFewShotClassifier(device=device, update_resolution=resolution, random_state=task)
        clf.set_meta_weights(meta.meta_weights_, meta.image_shape_).fit(test.images[support], labels)
        accuracy[name].append(clf.score(test.images[query], labels))
        if device == "hermes":
            writes.append(clf.device_writes_)

# %%
# Query accuracy over 20 unseen tasks, and the devices a task's updates write
# (at most 4 steps x 16 x 5 weights x 2 devices).
fig, ax = plt.subplots(figsize=(6, 3))
ax.boxplot(list(accuracy.values()), tick_labels=list(accuracy), orientation="horizontal")
ax.set_xlabel("query accuracy (5-way 5-shot, unseen digits)")
fig.tight_layout()
for name, values in accuracy.items():
    print(f"{name}: {100 * np.mean(values):.1f} %")
print(f"device writes per task on the chip: {np.mean(writes):.0f}")

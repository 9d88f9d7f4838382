"""ListOps with the Performer's projections on the chip: ``python -m sklearn_aimc attention --task listops``.

The Long-Range-Arena experiment of Büchel et al. (2024) on a CPU: a small
Performer (:class:`~sklearn_aimc.torch.performer.PerformerClassifier`, the
paper's LRA model: 2 layers, embedding 64, FFN 128, 2 heads, pre-LayerNorm,
mean pooling, FAVOR+ with 128 projections of 32-dimensional heads, GELU) is
trained in PyTorch on ListOps (:func:`~sklearn_aimc.listops.make_listops`,
the CPU preset :data:`~sklearn_aimc.listops.CPU_LISTOPS`), with its
projections redrawn periodically.  A softmax Transformer of the same size is
trained on the same data as the baseline.  The trained Performer is then run
in numpy (:class:`~sklearn_aimc.performer.AnalogPerformer`) with one fresh
projection per layer and seed, in float (ideal device) and programmed on the
simulated HERMES chip read one hour after programming; optionally with every
linear layer on the chip too.  Results: ``listops.csv`` (columns ``task,
seed, device, accuracy``), ``listops.md`` and ``listops_training.csv``.

Needs the ``torch`` extra (``pip install "sklearn-aimc[torch]"``).
"""

import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..listops import CPU_LISTOPS, VOCABULARY, make_listops
from .attention import ABLATIONS
from ..performer import AnalogPerformer, save_weights
from ._records import load_average_note, machine_info

__all__ = ["DATA_SEED", "FULL", "LISTOPS_ABLATIONS", "LISTOPS_COLUMNS", "QUICK", "listops_study", "load_listops_split",
           "numpy_accuracy", "train_classifier"]

#: Seed of the generated data set (train, validation and test parts are drawn in turn).
DATA_SEED = 20180601
#: Columns of ``listops.csv``.
LISTOPS_COLUMNS = ("task", "seed", "device", "accuracy")
#: Settings of the full run (sized for a CPU: the paper trains 50k updates of 256 samples on LRA ListOps).
FULL = dict(n_train=20000, n_val=1000, n_test=2000, steps=1600, batch_size=64, lr=1e-3, warmup=100,
            redraw_every=100, chip_seeds=3, n_calibration=256, linear_on_chip=True, ablation=True, hw_steps=400)
#: Settings of ``--quick``: a smoke test of seconds.
QUICK = dict(n_train=150, n_val=30, n_test=50, steps=10, batch_size=16, lr=1e-3, warmup=2,
             redraw_every=5, chip_seeds=2, n_calibration=16, linear_on_chip=True, ablation=False, hw_steps=4)


def load_listops_split(n_train, n_val, n_test, *, preset=CPU_LISTOPS, random_state=DATA_SEED):
    """Train, validation and test parts of one generated ListOps set.

    Parameters
    ----------
    n_train, n_val, n_test : int
        Sizes of the parts, drawn in this order from one generator.
    preset : dict, default=CPU_LISTOPS
        Keyword arguments of :func:`~sklearn_aimc.listops.make_listops`.
    random_state : int, default=DATA_SEED

    Returns
    -------
    parts : dict
        ``"train"``, ``"val"``, ``"test"``: (X, y) with X int64 token ids
        padded to the longest sample of all parts.
    """
    X, y = make_listops(n_train + n_val + n_test, **preset, random_state=random_state)
    X = X.astype(np.int64)
    bounds = np.cumsum([0, n_train, n_val, n_test])
    return {name: (X[lo:hi], y[lo:hi]) for name, lo, hi in zip(("train", "val", "test"), bounds[:-1], bounds[1:])}


def _length_batches(X, batch_size, rng=None):
    """Index batches of similar lengths (less padding); shuffled when ``rng`` is given."""
    lengths = (X != 0).sum(axis=1)
    order = np.argsort(lengths + (rng.random(len(X)) if rng is not None else 0), kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def _torch_accuracy(model, X, y, batch_size=256):
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for batch in _length_batches(X, batch_size):
            length = int((X[batch] != 0).sum(axis=1).max())
            logits = model(torch.from_numpy(X[batch, :length]))
            correct += int((logits.argmax(dim=1).numpy() == y[batch]).sum())
    model.train()
    return correct / len(y)


def numpy_accuracy(performer, X, y, batch_size=256):
    """Accuracy of an :class:`~sklearn_aimc.performer.AnalogPerformer`, in batches of similar lengths.

    Parameters
    ----------
    performer : AnalogPerformer
        Programmed.
    X : ndarray of int of shape (n_samples, L)
        Padded token sequences.
    y : ndarray of shape (n_samples,)
    batch_size : int, default=256

    Returns
    -------
    accuracy : float
    """
    correct = 0
    for batch in _length_batches(X, batch_size):
        length = int((X[batch] != 0).sum(axis=1).max())
        correct += int((performer.predict(X[batch, :length], batch_size=batch_size) == y[batch]).sum())
    return correct / len(y)


def train_classifier(train, val, *, n_projections, steps, batch_size, lr, warmup, redraw_every, random_state=0,
                     log_every=100, progress=True, label="", model=None):
    """Train a :class:`~sklearn_aimc.torch.performer.PerformerClassifier` with Adam.

    Learning rate: linear warm-up over ``warmup`` steps, then cosine decay
    to 0 (ours, for a short run); FAVOR+ projections redrawn every
    ``redraw_every`` steps (the paper: every 1500 of 50k updates).

    Parameters
    ----------
    train, val : tuple of ndarray
        ``(X, y)`` of padded token sequences (int64) and labels.
    n_projections : int
        FAVOR+ projections per layer; 0 trains the softmax Transformer.
    steps, batch_size : int
        Updates and samples per update (batches of similar lengths).
    lr : float
        Peak learning rate.
    warmup, redraw_every : int
        Warm-up steps; steps between redraws of the projections.
    random_state : int, default=0
        Seeds the initial weights, the projections and the batches.
    log_every : int, default=100
        Steps between log entries (each with a validation accuracy).
    progress : bool, default=True
        Log lines on stderr.
    label : str, default=""
        Prefix of the log lines.
    model : PerformerClassifier, default=None
        Continue training this model (e.g. hardware-aware fine-tuning)
        instead of a new one.

    Returns
    -------
    model : PerformerClassifier
    log : list of dict
        ``step``, ``loss`` (mean over the last ``log_every`` steps),
        ``val_accuracy`` and ``seconds``.
    """
    import torch

    from ..torch.performer import PerformerClassifier

    X, y = train
    if model is None:
        model = PerformerClassifier(len(VOCABULARY), X.shape[1], 10, n_projections=n_projections,
                                    random_state=random_state)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps)))
    rng = np.random.default_rng(random_state)
    batches, log, losses, start = [], [], [], time.perf_counter()
    for step in range(1, steps + 1):
        if not batches:
            batches = _length_batches(X, batch_size, rng)
        batch = batches.pop()
        length = int((X[batch] != 0).sum(axis=1).max())
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(X[batch, :length])),
                                                 torch.from_numpy(y[batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if n_projections and step % redraw_every == 0 and step < steps:
            model.redraw_projections()
        if step % log_every == 0 or step == steps:
            entry = dict(step=step, loss=float(np.mean(losses[-log_every:])),
                         val_accuracy=_torch_accuracy(model, *val), seconds=time.perf_counter() - start)
            log.append(entry)
            if progress:
                print(f"{label} step {step}/{steps}: loss {entry['loss']:.3f}, validation accuracy "
                      f"{entry['val_accuracy']:.3f} ({entry['seconds']:.0f} s)", file=sys.stderr)
    model.eval()
    return model, log


#: Chip configurations of the ablation (HERMES with one effect switched off, or
#: its converter ranges calibrated on the largest calibration value instead of
#: the 99.9th percentile).
LISTOPS_ABLATIONS = {
    **ABLATIONS,
    "hermes, ADC range at 100th percentile": {"output_percentile": 100.0},
    "hermes, DAC and ADC ranges at 100th percentile": {"input_percentile": 100.0, "output_percentile": 100.0},
}


def _evaluate_on_chips(weights, parts, chip_seeds, n_calibration, linear_on_chip, ablation, progress,
                       suffix=""):
    from ..crossbar import AnalogCrossbar

    calibration = parts["train"][0][:n_calibration]
    calibration = calibration[:, : int((calibration != 0).sum(axis=1).max())]
    X_test, y_test = parts["test"]
    devices = {"float": dict(device="ideal"), "hermes": dict(device=AnalogCrossbar())}
    if linear_on_chip:
        devices["hermes-all-linear"] = dict(device=AnalogCrossbar(), linear_device=AnalogCrossbar())
    if ablation:
        devices.update({name: dict(device=AnalogCrossbar(**params)) for name, params in LISTOPS_ABLATIONS.items()})
    rows = []
    for seed in range(chip_seeds):
        for name, params in devices.items():
            start = time.perf_counter()
            performer = AnalogPerformer(weights, random_state=seed, **params).program(calibration)
            accuracy = numpy_accuracy(performer, X_test, y_test)
            rows.append(dict(task="listops", seed=seed, device=name + suffix, accuracy=accuracy))
            if progress:
                print(f"chip seed {seed} {name}{suffix}: accuracy {accuracy:.4f} "
                      f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return rows


def _stats(values):
    values = np.asarray(values)
    return f"{100 * values.mean():.2f} ± {100 * values.std():.2f}"


def _write_summary(path, rows, info, settings, command):
    machine = machine_info()
    by_device = {}
    for row in rows:
        by_device.setdefault(row["device"], []).append(row["accuracy"])
    lines = ["# ListOps: Performer with its FAVOR+ projections on the simulated HERMES chip", "",
             f"Test accuracy (%) on {settings['n_test']} generated ListOps samples, mean ± std over "
             f"{settings['chip_seeds']} seeds of the projections and chip (one fresh ORF projection per layer "
             "and seed, the same in float and on the chip; HERMES = `AnalogCrossbar()` read 1 h after "
             "programming, calibrated on training samples).", "",
             "| model | inference | accuracy (%) | vs float (pp) |", "|---|---|---|---|"]
    labels = {"float": "numpy, projections in float (ideal device)",
              "hermes": "numpy, projections on HERMES",
              "hermes-all-linear": "numpy, projections and all linear layers on HERMES",
              **{name: f"numpy, projections on {name} (ablation)" for name in LISTOPS_ABLATIONS},
              "float, hardware-aware": "numpy, projections in float",
              "hermes, hardware-aware": "numpy, projections on HERMES"}
    for device, values in by_device.items():
        reference = by_device["float, hardware-aware"] if device.endswith("hardware-aware") else by_device["float"]
        model = "Performer, hardware-aware fine-tuned" if device.endswith("hardware-aware") else "Performer"
        lines.append(f"| {model} | {labels.get(device, device)} | {_stats(values)} | "
                     f"{100 * (np.mean(values) - np.mean(reference)):+.2f} |")
    lines.append(f"| Performer | PyTorch, its last training projection | {100 * info['performer_torch']:.2f} | |")
    lines.append(f"| Transformer (softmax, same size) | PyTorch | {100 * info['transformer_torch']:.2f} | |")
    lines.append(f"| Transformer (softmax, same size) | numpy | {100 * info['transformer_numpy']:.2f} | |")
    lines.append("| chance | uniform guess | 10.00 | |")
    lines.append(f"| majority class | always {info['majority_class']} | {100 * info['majority_rate']:.2f} | |")
    per_seed = {}
    for row in rows:
        per_seed.setdefault(row["seed"], {})[row["device"]] = row["accuracy"]
    for suffix in ("", ", hardware-aware"):
        pairs = [(d[f"float{suffix}"], d[f"hermes{suffix}"]) for d in per_seed.values() if f"hermes{suffix}" in d]
        if not pairs:
            continue
        drops = [100 * (f - h) for f, h in pairs]
        lines += ["", f"Float minus HERMES per seed{suffix and ' (hardware-aware model)'} (pp): "
                  f"{', '.join(f'{x:+.2f}' for x in drops)}; largest |drop| {max(map(abs, drops)):.2f} pp "
                  "(target: within 1 pp)."]
    lines += ["", "## Training (PyTorch, CPU)", ""]
    if info.get("from_weights"):
        lines.append(f"Weights of an earlier run, loaded from `{info['from_weights']}`.")
    lines += ["", "| model | steps x batch | wall time | CPU time | final validation accuracy (%) |",
              "|---|---|---|---|---|"]
    for name in ("performer", "transformer", "hardware-aware"):
        t = info.get(f"{name}_training")
        if t:
            lines.append(f"| {name} | {t['steps']} x {settings['batch_size']} | {t['wall']:.0f} s | "
                         f"{t['cpu']:.0f} s | {100 * t['val_accuracy']:.2f} |")
    lines += ["", "## Settings", ""]
    lines += [f"- Data: `make_listops(**CPU_LISTOPS, random_state={DATA_SEED})` with CPU_LISTOPS = "
              f"{CPU_LISTOPS}: {settings['n_train']} train, {settings['n_val']} validation, {settings['n_test']} "
              "test samples (drawn in turn)."]
    lines += [f"- Training: Adam, lr {settings['lr']} (warm-up {settings['warmup']} steps, cosine decay), batches "
              f"of similar lengths, projections redrawn every {settings['redraw_every']} steps, "
              f"torch threads {info['torch_threads']}."]
    if settings.get("hw_steps"):
        lines += [f"- Hardware-aware fine-tuning: {settings['hw_steps']} steps from the trained Performer at lr "
                  f"{settings['lr'] / 10:g}, its FAVOR+ projections computed with the paper's noise "
                  "(`PAPER_HARDWARE_NOISE`: weight noise 0.12 max|W| per column, output noise 0.1, 8-bit inputs; "
                  "the projections are random, not learned, so no weight clipping)."]
    lines += [f"- Chip calibration: the first {settings['n_calibration']} training samples."]
    lines += ["", "## Run", "", f"- Command: `{command}`",
              f"- Wall time: {info['wall']:.0f} s, CPU time {info['cpu']:.0f} s ({load_average_note()})",
              f"- Machine: {machine['platform']}, {machine['processor']}, {machine['cpu_count']} CPUs, Python "
              f"{machine['python']}; {machine['packages']}, torch {info['torch_version']}"]
    Path(path).write_text("\n".join(lines) + "\n")


def listops_study(output_dir, *, quick=False, chip_seeds=None, steps=None, hardware_aware_steps=None,
                  from_weights=None, ablation=None, threads=1, progress=True, command=""):
    """Train, evaluate on chips and write ``listops.csv``, ``listops.md`` and ``listops_training.csv``.

    Parameters
    ----------
    output_dir : path-like
    quick : bool, default=False
        :data:`QUICK` settings instead of :data:`FULL`.
    chip_seeds, steps, hardware_aware_steps : int, default=None
        Override the settings' number of chip seeds, training steps and
        hardware-aware fine-tuning steps (0: none).
    ablation : bool, default=None
        Override the settings' chip ablation (on in :data:`FULL`).
    from_weights : path-like, default=None
        A directory with the ``listops_performer_weights.npz`` and
        ``listops_transformer_weights.npz`` of an earlier run (same
        settings): skip the training and evaluate those models.
    threads : int, default=1
        PyTorch threads.
    progress : bool, default=True
    command : str, default=""
        Recorded in the summary.

    Returns
    -------
    rows : list of dict
        The rows of ``listops.csv``.
    """
    import torch

    from ..performer import load_weights
    from ..torch.performer import PAPER_HARDWARE_NOISE, PerformerClassifier, export_weights

    settings = dict(QUICK if quick else FULL)
    for key, value in (("chip_seeds", chip_seeds), ("steps", steps), ("hw_steps", hardware_aware_steps),
                       ("ablation", ablation)):
        if value is not None:
            settings[key] = value
    torch.set_num_threads(threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    parts = load_listops_split(settings["n_train"], settings["n_val"], settings["n_test"])
    train_params = {key: settings[key] for key in ("batch_size", "redraw_every")}
    info, logs, models = {"torch_threads": threads, "torch_version": torch.__version__}, {}, {}
    log_every = max(1, settings["steps"] // 10)
    for name, n_projections in (("performer", 128), ("transformer", 0)):
        if from_weights is not None:
            info["from_weights"] = str(from_weights)
            models[name] = PerformerClassifier.from_weights(
                load_weights(Path(from_weights) / f"listops_{name}_weights.npz")).eval()
        else:
            t0, c0 = time.perf_counter(), time.process_time()
            models[name], logs[name] = train_classifier(
                parts["train"], parts["val"], n_projections=n_projections, progress=progress, label=name,
                log_every=log_every, steps=settings["steps"], lr=settings["lr"], warmup=settings["warmup"],
                **train_params)
            info[f"{name}_training"] = dict(wall=time.perf_counter() - t0, cpu=time.process_time() - c0,
                                            val_accuracy=logs[name][-1]["val_accuracy"], steps=settings["steps"])
        info[f"{name}_torch"] = _torch_accuracy(models[name], *parts["test"])
    weights = {name: export_weights(model) for name, model in models.items()}
    if from_weights is None:
        for name, exported in weights.items():
            save_weights(output_dir / f"listops_{name}_weights.npz", exported)
    if settings["hw_steps"]:
        t0, c0 = time.perf_counter(), time.process_time()
        tuned = PerformerClassifier.from_weights(weights["performer"]).set_hardware_noise(PAPER_HARDWARE_NOISE)
        tuned, logs["hardware-aware"] = train_classifier(
            parts["train"], parts["val"], n_projections=128, model=tuned, progress=progress, label="hardware-aware",
            log_every=max(1, settings["hw_steps"] // 5), steps=settings["hw_steps"], lr=settings["lr"] / 10,
            warmup=1, random_state=1, **train_params)
        info["hardware-aware_training"] = dict(wall=time.perf_counter() - t0, cpu=time.process_time() - c0,
                                               val_accuracy=logs["hardware-aware"][-1]["val_accuracy"],
                                               steps=settings["hw_steps"])
        weights["hardware-aware"] = export_weights(tuned.set_hardware_noise(None))
        save_weights(output_dir / "listops_performer_hardware_aware_weights.npz", weights["hardware-aware"])
    transformer = AnalogPerformer(weights["transformer"], device="ideal").program(parts["train"][0][:8])
    info["transformer_numpy"] = numpy_accuracy(transformer, *parts["test"])
    y_train = parts["train"][1]
    info["majority_class"] = int(np.bincount(y_train, minlength=10).argmax())
    info["majority_rate"] = float(np.mean(parts["test"][1] == info["majority_class"]))
    rows = _evaluate_on_chips(weights["performer"], parts, settings["chip_seeds"], settings["n_calibration"],
                              settings["linear_on_chip"], settings["ablation"], progress)
    if settings["hw_steps"]:
        rows += _evaluate_on_chips(weights["hardware-aware"], parts, settings["chip_seeds"],
                                   settings["n_calibration"], False, False, progress, suffix=", hardware-aware")
    with open(output_dir / "listops.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=LISTOPS_COLUMNS)
        writer.writeheader()
        writer.writerows({**row, "accuracy": f"{row['accuracy']:.4f}"} for row in rows)
    with open(output_dir / "listops_training.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=("model", "step", "loss", "val_accuracy", "seconds"))
        writer.writeheader()
        for name, log in logs.items():
            writer.writerows({"model": name, **{k: f"{v:.4g}" for k, v in entry.items()}} for entry in log)
    info["wall"], info["cpu"] = time.perf_counter() - start, time.process_time() - cpu_start
    _write_summary(output_dir / "listops.md", rows, info, settings, command)
    if progress:
        print(f"wrote {output_dir} ({info['wall']:.0f} s)", file=sys.stderr)
    return rows

"""Learning-to-learn on PCM: 5-way 5-shot tasks adapted in software and on the simulated HERMES chip.

``python -m sklearn_aimc few-shot [--quick] --output-dir DIR`` meta-trains the
few-shot network of Ortner et al. (Nat. Commun. 2025) with MAML in software
(PyTorch) on the meta-training classes, then adapts it to unseen tasks of the
meta-test classes three ways: in software with float (32-bit) updates, in
software with updates stochastically rounded to 1/16, and on the simulated
HERMES chip (programming noise, drift, read noise, converters) with 1/16
updates that rewrite only the changed devices.  It writes ``few_shot.csv``
(one row per dataset, model, inner-step count and task), ``few_shot.md`` and
``few_shot_inner_steps.png``.
"""

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from ..crossbar import check_device
from ..few_shot import AnalogFewShotClassifier
from ..glyphs import iter_episodes, load_digit_images, load_glyphs
from ._plotting import COLORS, MATPLOTLIB_NOTE, figure_class
from ._records import machine_info
from ._report import markdown_table

__all__ = ["build_parser", "main", "run_dataset", "summarize"]

COLUMNS = ["dataset", "ways", "shots", "model", "task", "accuracy", "device_writes", "inner_steps"]

#: model -> (device, update_resolution)
MODELS = {"software_float": ("ideal", None), "software_1/16": ("ideal", 1 / 16), "hermes": ("hermes", 1 / 16)}

FULL = {
    "glyphs": dict(meta_iterations=500, meta_batch_size=16, channels=56, n_tasks=100),
    "digits": dict(meta_iterations=500, meta_batch_size=16, channels=56, n_tasks=100),
}
QUICK = {
    "glyphs": dict(meta_iterations=3, meta_batch_size=2, channels=8, n_tasks=3),
    "digits": dict(meta_iterations=3, meta_batch_size=2, channels=8, n_tasks=3),
}
INNER_STEPS = (0, 1, 2, 4, 8)
PAPER_INNER_STEPS = 4


def _data(dataset):
    if dataset == "glyphs":
        return load_glyphs("meta_train"), load_glyphs("meta_test")
    return load_digit_images("meta_train"), load_digit_images("meta_test")


def _devices_per_weight():
    chip = check_device("hermes").program(np.full((2, 2), 0.5), calibration_inputs=np.ones((2, 2)), random_state=0)
    return chip.counters.device_writes // 4


def run_dataset(dataset, settings, inner_steps=INNER_STEPS, ways=5, shots=5, queries=5, seed=0, log=print):
    """Meta-train on one dataset's meta-training classes and adapt on its unseen tasks.

    Parameters
    ----------
    dataset : {"glyphs", "digits"}
    settings : dict
        ``meta_iterations``, ``meta_batch_size``, ``channels`` and ``n_tasks``.
    inner_steps : tuple of int, default=(0, 1, 2, 4, 8)
        Inner-step counts to adapt with.
    ways, shots, queries : int, default=5
    seed : int, default=0
        Seeds meta-training, the tasks and the chips.
    log : callable, default=print

    Returns
    -------
    rows : list of dict
    timing : dict
        ``meta_seconds`` (meta-training wall time) and ``adapt_seconds``
        (mean wall time of one chip adaptation with the paper's 4 steps).
    """
    import torch

    torch.set_num_threads(1)
    train, test = _data(dataset)
    base = AnalogFewShotClassifier(
        n_ways=ways, n_shots=shots, n_queries=queries, channels=settings["channels"],
        meta_iterations=settings["meta_iterations"], meta_batch_size=settings["meta_batch_size"], random_state=seed,
    )
    start = time.perf_counter()
    base.meta_fit(train.images, train.target)
    meta_seconds = time.perf_counter() - start
    log(f"[few-shot] {dataset}: meta-trained in {meta_seconds:.0f} s, final query loss "
        f"{base.meta_history_[-20:].mean():.3f}")
    per_weight = _devices_per_weight()
    rows, adapt_seconds = [], []
    episodes = iter_episodes(test.target, ways, shots, queries, settings["n_tasks"], random_state=seed + 1)
    support_labels, query_labels = np.repeat(np.arange(ways), shots), np.repeat(np.arange(ways), queries)
    for task, (support, query) in enumerate(episodes):
        for model, (device, resolution) in MODELS.items():
            for steps in inner_steps:
                clf = AnalogFewShotClassifier(
                    n_ways=ways, n_inner_steps=steps, update_resolution=resolution, device=device,
                    random_state=seed * 100_003 + task,
                ).set_meta_weights(base.meta_weights_, base.image_shape_)
                tick = time.perf_counter()
                clf.fit(test.images[support], support_labels)
                if device == "hermes" and steps == PAPER_INNER_STEPS:
                    adapt_seconds.append(time.perf_counter() - tick)
                writes = clf.device_writes_ if device == "hermes" else clf.weight_updates_ * per_weight
                rows.append(dict(dataset=dataset, ways=ways, shots=shots, model=model, task=task,
                                 accuracy=clf.score(test.images[query], query_labels), device_writes=int(writes),
                                 inner_steps=steps))
    return rows, {"meta_seconds": meta_seconds, "adapt_seconds": float(np.mean(adapt_seconds))}


def _interval(values):
    values = np.asarray(values, dtype=np.float64)
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else float("nan")
    return values.mean(), half


def summarize(rows, steps=PAPER_INNER_STEPS):
    """Mean accuracy with its 95 % interval and mean device writes, per dataset and model.

    Parameters
    ----------
    rows : list of dict
        Rows of :data:`COLUMNS`.
    steps : int, default=4
        The inner-step count to summarise.

    Returns
    -------
    table : list of dict
        ``dataset``, ``model``, ``n_tasks``, ``accuracy`` (mean), ``interval``
        (half-width of the normal 95 % interval) and ``device_writes`` (mean).
    """
    table = []
    for dataset in dict.fromkeys(row["dataset"] for row in rows):
        for model in MODELS:
            group = [row for row in rows if row["dataset"] == dataset and row["model"] == model
                     and row["inner_steps"] == steps]
            mean, half = _interval([row["accuracy"] for row in group])
            table.append(dict(dataset=dataset, model=model, n_tasks=len(group), accuracy=mean, interval=half,
                              device_writes=float(np.mean([row["device_writes"] for row in group]))))
    return table


def plot_inner_steps(rows, path):
    """Accuracy against inner steps, one panel per dataset; returns False without matplotlib."""
    Figure = figure_class()
    if Figure is None:
        return False
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    figure = Figure(figsize=(4.2 * len(datasets), 3.4), layout="constrained")
    for index, dataset in enumerate(datasets):
        ax = figure.add_subplot(1, len(datasets), index + 1)
        for color, model in zip(COLORS, MODELS):
            steps = sorted({row["inner_steps"] for row in rows if row["dataset"] == dataset})
            stats = [_interval([row["accuracy"] for row in rows if row["dataset"] == dataset
                                and row["model"] == model and row["inner_steps"] == s]) for s in steps]
            means, halves = (np.array(part) * 100 for part in zip(*stats))
            ax.errorbar(steps, means, yerr=halves, color=color, marker="o", markersize=3, capsize=2, label=model)
        ax.set_xlabel("inner steps")
        ax.set_ylabel("query accuracy (%)")
        ax.set_title(f"{dataset}: 5-way 5-shot")
        ax.legend(fontsize=8)
    figure.savefig(path, dpi=120)
    return True


def _markdown(table, timing, wall, cpu, command, figure):
    rows = [[entry["dataset"], entry["model"], str(entry["n_tasks"]),
             f"{100 * entry['accuracy']:.2f} ± {100 * entry['interval']:.2f}", f"{entry['device_writes']:.0f}"]
            for entry in table]
    lines = [
        "# Learning-to-learn on PCM: 5-way 5-shot adaptation in software and on the chip", "",
        f"Command: `{command}`  ", f"Wall time: {wall:.0f} s, CPU time: {cpu:.0f} s (one thread).  ",
        "Meta-training (wall): " + ", ".join(f"{name} {t['meta_seconds']:.0f} s" for name, t in timing.items())
        + ".  ",
        "Adapting one task on the simulated chip (4 inner steps, programming included): "
        + ", ".join(f"{name} {1000 * t['adapt_seconds']:.0f} ms" for name, t in timing.items()) + ".  ",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in machine_info().items()), "",
        f"Query accuracy after {PAPER_INNER_STEPS} inner steps on unseen tasks (mean ± half-width of the 95 % "
        "interval over tasks) and device writes per task (devices the updates rewrite; for the software models, "
        "the writes the chip would need: changed weights x devices per weight).", "",
        markdown_table(["dataset", "model", "tasks", "accuracy (%)", "device writes"], rows), "",
        "## Target: the chip within 2 pp of software with 32-bit updates", "",
    ]
    for dataset in dict.fromkeys(entry["dataset"] for entry in table):
        by_model = {entry["model"]: entry for entry in table if entry["dataset"] == dataset}
        gap = 100 * (by_model["software_float"]["accuracy"] - by_model["hermes"]["accuracy"])
        lines.append(f"- {dataset}: chip {gap:+.2f} pp below software float: "
                     + ("met" if gap <= 2 else "**not met**"))
    lines += ["", "![accuracy against inner steps](few_shot_inner_steps.png)" if figure else MATPLOTLIB_NOTE]
    return "\n".join(lines) + "\n"


def build_parser():
    """The parser of ``python -m sklearn_aimc few-shot``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_aimc.experiments.few_shot import build_parser
    >>> build_parser().parse_args(["--quick"]).quick
    True
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_aimc few-shot",
        description="MAML meta-trained in software, 5-way 5-shot tasks adapted in software and on the chip.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny network, a few tasks (seconds)")
    parser.add_argument("--datasets", nargs="+", choices=sorted(FULL), default=["glyphs", "digits"])
    parser.add_argument("--tasks", type=int, default=None, metavar="N", help="unseen tasks per dataset")
    parser.add_argument("--meta-iterations", type=int, default=None, metavar="N")
    parser.add_argument("--output-dir", default="few-shot-results", metavar="DIR")
    return parser


def main(argv=None):
    """Run the study; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None

    Returns
    -------
    status : int
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    start, cpu_start = time.perf_counter(), time.process_time()
    rows, timing = [], {}
    for dataset in args.datasets:
        settings = dict((QUICK if args.quick else FULL)[dataset])
        if args.tasks is not None:
            settings["n_tasks"] = args.tasks
        if args.meta_iterations is not None:
            settings["meta_iterations"] = args.meta_iterations
        dataset_rows, timing[dataset] = run_dataset(
            dataset, settings, inner_steps=(0, PAPER_INNER_STEPS) if args.quick else INNER_STEPS
        )
        rows += dataset_rows
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "few_shot.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    figure = plot_inner_steps(rows, output / "few_shot_inner_steps.png")
    command = ("python -m sklearn_aimc few-shot " + " ".join(argv)).strip()
    text = _markdown(summarize(rows), timing, time.perf_counter() - start, time.process_time() - cpu_start,
                     command, figure)
    (output / "few_shot.md").write_text(text)
    print(text)
    return 0

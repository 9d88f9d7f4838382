"""The fixed-point near-memory unit against FP16 post-processing, ``python -m sklearn_aimc nmpu``.

Ferro et al. (ISCAS 2024) replace the chip's FP16 post-processing unit (affine
scale / offset and ReLU in binary16 after the ADCs) by a fixed-point
near-memory processing unit (NMPU) and report an accuracy drop of 0.12 pp
(ResNet9, CIFAR-10) and 0.4 pp (ResNet32, CIFAR-100) against the FP16
baseline.  This study asks the same question of multi-layer perceptrons with
every layer on the simulated HERMES chip: an MLP is trained in float
(scikit-learn's MLPClassifier), then evaluated in float, on the chip with the
FP16 unit (``AnalogCrossbar(post_processing="fp16")``) and on the chip with
the fixed-point NMPU (``post_processing="fixed"``, the package default), the
bias and ReLU of each layer in that unit, 8-bit inputs, read one hour after
programming.  Both chips of a seed hold the same trained network and get the
same chip seed (the same devices, programming noise and read noise), so the
NMPU-FP16 difference measures the post-processing alone; every seed programs
a fresh chip.

Data: digits (scikit-learn's bundled 8 x 8 handwritten digits, 10 classes,
pixels / 16, a stratified half split per seed) and the shared tabular
benchmarks of :func:`sklearn_aimc.datasets.load_benchmark` (binary, z-scored
on the training split, at most ``max_train`` training and ``max_test`` test
rows, one split for all seeds).

Writes ``nmpu_vs_fp16.csv`` (one row per run), ``nmpu_vs_fp16.md`` (command,
wall and CPU time, the table, the target) and ``nmpu_vs_fp16.png``.
"""

import argparse
import csv
import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ..crossbar import AnalogCrossbar
from ..exceptions import AnalogClippingWarning
from ..mlp import AnalogMLPClassifier
from ._data import load_split
from ._plotting import COLORS, MATPLOTLIB_NOTE, figure_class
from ._records import machine_info
from ._report import markdown_table, pm, stats
from ._runner import clock

__all__ = ["COLUMNS", "SETTINGS", "build_parser", "main", "run_nmpu", "summarize_nmpu"]

#: Evaluations of each trained network: float, chip + FP16 unit, chip + fixed-point NMPU.
SETTINGS = ("float", "fp16", "nmpu")
#: Columns of ``nmpu_vs_fp16.csv``.
COLUMNS = ("dataset", "n_train", "n_test", "hidden_layer_sizes", "seed", "setting", "accuracy")
#: Tabular benchmarks of the full run (shared data; skipped with a note when absent).
TABULAR = ("magic04", "letter", "eeg")
#: Target of the issue, after Ferro et al. (ISCAS 2024): NMPU within 0.4 pp of FP16.
TARGET_PP = 0.4
#: The CNN entry: ResNet9 (sized down) trained in torch on the 8 x 8 digits (three 2x2 pools take 8 x 8 to 1 x 1).
RESNET = "digits-resnet9"
#: ResNet9 width (channels of its first stage; 64 is the published network), training epochs, batch size and Adam
#: learning rate, chosen for a CPU (not tuned on the chip).
RESNET_WIDTH, RESNET_EPOCHS, RESNET_BATCH, RESNET_LR = 8, 40, 64, 3e-3
#: The network of every data set: two hidden ReLU layers, adam, early stopping on a float validation split.
MLP_PARAMS = dict(hidden_layer_sizes=(64, 32), max_iter=200, early_stopping=True, n_iter_no_change=10)


def _devices():
    return {"float": "ideal", "fp16": AnalogCrossbar(post_processing="fp16"), "nmpu": AnalogCrossbar()}


def _digits_split(seed):
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, train_size=0.5, stratify=y, random_state=seed)


def _data(dataset, seed, data_home, max_train, max_test):
    if dataset == "digits":
        return _digits_split(seed)
    return load_split(dataset, data_home=data_home, max_train=max_train, max_test=max_test)


def _evaluate_mlp(X_train, X_test, y_train, y_test, seed, hidden_layer_sizes):
    """Accuracy of one trained network under every setting (the same chip seed for both chips)."""
    accuracies = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (AnalogClippingWarning, ConvergenceWarning))
        for setting, device in _devices().items():
            params = {**MLP_PARAMS, "hidden_layer_sizes": hidden_layer_sizes}
            model = AnalogMLPClassifier(**params, device=device, random_state=seed).fit(X_train, y_train)
            accuracies[setting] = float(model.score(X_test, y_test))
    return accuracies


def _default_datasets():
    """digits, the ResNet on digits when torch is installed, and the tabular sets."""
    resnet = (RESNET,) if importlib.util.find_spec("torch") is not None else ()
    return ("digits", *resnet, *TABULAR)


def _train_resnet(X_train, y_train, seed, width, epochs):
    """ResNet9 of ``width`` trained in torch (Adam, cross-entropy, one thread), in eval mode, float64."""
    import torch

    from ..torch.resnet import resnet9

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = resnet9(in_channels=1, n_classes=10, width=width)
        optimizer = torch.optim.Adam(model.parameters(), lr=RESNET_LR)
        images = torch.tensor(X_train.reshape(-1, 1, 8, 8), dtype=torch.float32)
        labels = torch.tensor(y_train)
        generator = torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(labels), generator=generator)
            for start in range(0, len(labels), RESNET_BATCH):
                batch = order[start:start + RESNET_BATCH]
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval().double()


def _evaluate_resnet(X_train, X_test, y_train, y_test, seed, width, epochs):
    """Accuracy of a trained ResNet9 in float and with every conv / linear layer on the chip."""
    from ..torch.convert import convert

    net = convert(_train_resnet(X_train, y_train, seed, width, epochs))
    train_images, test_images = X_train.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)
    accuracies = {"float": float(np.mean(net.forward(test_images).argmax(axis=1) == y_test))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalogClippingWarning)
        for setting, device in _devices().items():
            if setting == "float":
                continue
            net.program(device, train_images, random_state=seed)
            accuracies[setting] = float(np.mean(net.forward(test_images).argmax(axis=1) == y_test))
    return accuracies


def run_nmpu(datasets=None, n_seeds=10, *, data_home=None, max_train=4000, max_test=4000,
             hidden_layer_sizes=MLP_PARAMS["hidden_layer_sizes"], resnet_width=RESNET_WIDTH,
             resnet_epochs=RESNET_EPOCHS, progress=True):
    """Every run of the study.

    Parameters
    ----------
    datasets : sequence of str, default=None
        ``"digits"``, ``"digits-resnet9"`` (needs torch) or keys of
        :data:`sklearn_aimc.datasets.DATASETS`; None runs digits, the ResNet
        on digits (when torch is installed), magic04, letter and eeg.
    n_seeds : int, default=10
        Seeds: each trains the network (and, for digits, draws the split)
        and programs fresh chips.
    data_home : str, default=None
        Directory of the tabular benchmarks (see ``load_benchmark``).
    max_train, max_test : int, default=4000
        Rows kept of a tabular benchmark's splits.
    hidden_layer_sizes : tuple of int, default=(64, 32)
        Hidden layers of the MLPs.
    resnet_width, resnet_epochs : int, default=8, 40
        Width and training epochs of the ResNet9 on digits.
    progress : bool, default=True
        Print one line per data set and seed.

    Returns
    -------
    rows : list of dict
        With the keys of :data:`COLUMNS`.
    """
    rows = []
    for dataset in _default_datasets() if datasets is None else datasets:
        for seed in range(n_seeds):
            if dataset == RESNET:
                X_train, X_test, y_train, y_test = _digits_split(seed)
                accuracies = _evaluate_resnet(X_train, X_test, y_train, y_test, seed, resnet_width, resnet_epochs)
                network = f"ResNet9 width {resnet_width}"
            else:
                X_train, X_test, y_train, y_test = _data(dataset, seed, data_home, max_train, max_test)
                accuracies = _evaluate_mlp(X_train, X_test, y_train, y_test, seed, tuple(hidden_layer_sizes))
                network = "x".join(map(str, hidden_layer_sizes))
            for setting in SETTINGS:
                rows.append(dict(dataset=dataset, n_train=len(y_train), n_test=len(y_test),
                                 hidden_layer_sizes=network, seed=seed, setting=setting,
                                 accuracy=accuracies[setting]))
            if progress:
                print(f"nmpu: {dataset} seed {seed}: " + ", ".join(f"{s} {a:.4f}" for s, a in accuracies.items()),
                      file=sys.stderr)
    return rows


def summarize_nmpu(rows):
    """Accuracy per setting and the paired NMPU - FP16 and FP16 - float differences, per data set.

    Parameters
    ----------
    rows : list of dict
        The records of :func:`run_nmpu`.

    Returns
    -------
    table : list of dict
        ``dataset``, ``hidden`` (the hidden layer sizes, e.g. ``"64x32"``),
        ``n_train``, ``n_test``, ``n_seeds``, the (mean, std)
        accuracy in percent of each setting, and ``nmpu_minus_fp16`` and
        ``fp16_minus_float`` as (mean, std) in pp over seeds.
    """
    by_dataset = {}
    for row in rows:
        by_dataset.setdefault(row["dataset"], {}).setdefault(int(row["seed"]), {})[row["setting"]] = float(
            row["accuracy"])
    table = []
    for dataset, seeds in by_dataset.items():
        first = next(row for row in rows if row["dataset"] == dataset)
        runs = list(seeds.values())
        entry = dict(dataset=dataset, hidden=first["hidden_layer_sizes"], n_train=int(first["n_train"]),
                     n_test=int(first["n_test"]), n_seeds=len(runs))
        for setting in SETTINGS:
            entry[setting] = stats([run[setting] for run in runs], 100)
        entry["nmpu_minus_fp16"] = stats([run["nmpu"] - run["fp16"] for run in runs], 100)
        entry["fp16_minus_float"] = stats([run["fp16"] - run["float"] for run in runs], 100)
        table.append(entry)
    return table


def _markdown(table, command, wall, cpu, figure):
    rows = [[entry["dataset"], entry["hidden"], entry["n_train"], entry["n_test"], entry["n_seeds"], pm(entry["float"]),
             pm(entry["fp16"]), pm(entry["nmpu"]), pm(entry["fp16_minus_float"]), pm(entry["nmpu_minus_fp16"])]
            for entry in table]
    lines = [
        "# Fixed-point near-memory unit against FP16 post-processing: MLPs on the chip", "",
        f"Command: `{command}`  ", f"Wall time: {clock(wall)}, CPU time: {clock(cpu)}.  ",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in machine_info().items()), "",
        "A network (an MLP with the hidden ReLU layers listed, adam, early stopping, or a ResNet9) trained in "
        "float, then evaluated in float, "
        "on the simulated HERMES chip with the FP16 post-processing unit and with the fixed-point NMPU (every "
        "layer on the chip, bias and ReLU in the unit, 8-bit DAC inputs, 8-bit ADC, one hour after programming). "
        "Test accuracy (%), mean ± std over seeds; the differences are paired per seed (same network, same "
        "chip seed), in pp.", "",
        markdown_table(["data", "hidden", "train", "test", "seeds", "float (%)", "chip + FP16 (%)", "chip + NMPU (%)",
                        "FP16 - float (pp)", "NMPU - FP16 (pp)"], rows), "",
        "digits-resnet9: ResNet9 (channel widths w, 2w, 4w, 8w) trained in torch on the same digits splits "
        f"({RESNET_EPOCHS} epochs, Adam), every convolution and the classifier on the chip, batch norms and "
        "ReLUs folded into the post-processing unit, pooling and residual adds digital. "
        "digits: scikit-learn's bundled 8 x 8 digits (10 classes), a stratified half split per seed. Tabular "
        "sets: the shared benchmarks (binary, z-scored, letter as A-M vs N-Z), one split for all seeds, "
        "training rows subsampled.", "",
        f"## Target: NMPU within {TARGET_PP} pp of FP16 (Ferro et al., ISCAS 2024)", "",
    ]
    for entry in table:
        gap = entry["nmpu_minus_fp16"][0]
        met = "met" if abs(gap) <= TARGET_PP else "**not met**"
        lines.append(f"- {entry['dataset']}: NMPU - FP16 = {gap:+.2f} pp: {met}")
    lines += ["", f"![accuracy per setting]({figure})" if figure else MATPLOTLIB_NOTE]
    return "\n".join(lines) + "\n"


def _figure(table, path):
    Figure = figure_class()
    if Figure is None:
        return None
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    width = 0.27
    x = np.arange(len(table))
    labels = {"float": "float", "fp16": "chip + FP16", "nmpu": "chip + NMPU"}
    for i, setting in enumerate(SETTINGS):
        means = [entry[setting][0] for entry in table]
        stds = [entry[setting][1] for entry in table]
        ax.bar(x + (i - 1) * width, means, width, yerr=stds, color=COLORS[i], label=labels[setting], capsize=2)
    lows = [min(entry[s][0] for s in SETTINGS) for entry in table]
    ax.set_ylim(max(0.0, min(lows) - 5), 100)
    ax.set_xticks(x, [entry["dataset"] for entry in table])
    ax.set_ylabel("test accuracy (%)")
    ax.legend(loc="upper right", ncol=3, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path.name


def build_parser():
    """The parser of ``python -m sklearn_aimc nmpu``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_aimc.experiments.nmpu import build_parser
    >>> build_parser().parse_args(["--quick"]).quick
    True
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_aimc nmpu",
        description="MLPs on the chip: float, FP16 post-processing and the fixed-point NMPU.",
    )
    parser.add_argument("--seeds", type=int, default=10, dest="n_seeds", metavar="N", help="default 10")
    parser.add_argument("--datasets", nargs="+", default=None, metavar="NAME",
                        help="digits, digits-resnet9 (torch) and/or shared benchmarks (default: digits, "
                             "digits-resnet9 when torch is installed, magic04 letter eeg)")
    parser.add_argument("--data-home", default=None, metavar="DIR", help="directory of the shared benchmarks")
    parser.add_argument("--max-train", type=int, default=4000, metavar="N", help="default 4000")
    parser.add_argument("--max-test", type=int, default=4000, metavar="N", help="default 4000")
    parser.add_argument("--quick", action="store_true", help="digits only, 1 seed, 16 hidden units")
    parser.add_argument("--output-dir", default="nmpu-results", metavar="DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n_seeds < 1:
        parser.error("--seeds must be at least 1")
    start, start_cpu = time.perf_counter(), time.process_time()
    if args.quick:
        options = dict(datasets=("digits",), n_seeds=1, hidden_layer_sizes=(16,))
    else:
        datasets = None if args.datasets is None else tuple(args.datasets)
        options = dict(datasets=datasets, n_seeds=args.n_seeds, data_home=args.data_home,
                       max_train=args.max_train, max_test=args.max_test)
    rows = run_nmpu(progress=not args.quiet, **options)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "nmpu_vs_fp16.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    table = summarize_nmpu(rows)
    figure = _figure(table, output / "nmpu_vs_fp16.png")
    command = ("python -m sklearn_aimc nmpu " + " ".join(argv)).strip()
    text = _markdown(table, command, time.perf_counter() - start, time.process_time() - start_cpu, figure)
    (output / "nmpu_vs_fp16.md").write_text(text)
    print(text)
    return 0

"""One-shot learning of robot-arm trajectories on the chip, ``python -m sklearn_aimc robot-arm``.

The second demonstration of Ortner et al. (Nat. Commun. 2025): a recurrent
LIF controller (:mod:`sklearn_aimc.spiking`) drives the two joints of a
planar arm (:mod:`sklearn_aimc.robot_arm`); a meta-trained learning-signal
generator (:mod:`sklearn_aimc.torch.spiking`) emits learning signals for ONE
e-prop update of the controller's input and recurrent weights, after which
the controller should follow a new target trajectory.  Two deployments of the
same meta-trained weights on the same new trajectories:

- ``software``: float products, the float update;
- ``hermes``: ``[W_in; W_rec]`` programmed on the simulated HERMES chip (fixed
  weight range ``max|W|``, read at 60 s), the chip's own spikes giving the
  eligibility traces, the update rounded stochastically to multiples of 1/16
  of the weight range and written at 120 s by partial reprogramming (only the
  devices of changed weights), then read at 120 s.

Meta-training needs torch; ``--weights`` reuses exported weights instead.
Writes ``robot_arm.csv`` (``model,trajectory,stage,mse``; ``mse`` is the
task's loss 0.5 MSE(velocity) + 0.5 MSE(position)), ``robot_arm.md``,
``robot_arm.png`` and, after meta-training, ``robot_arm_weights.npz``.
"""

import argparse
import copy
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..exceptions import AnalogClippingWarning
from ..robot_arm import encode_targets, forward_kinematics, joint_angles, random_trajectories, trajectory_loss
from ..spiking import ChipWeights, LIFNetwork, clock_input, eprop_update
from ._plotting import MATPLOTLIB_NOTE, figure_class
from ._records import machine_info
from ._report import markdown_table

__all__ = ["COLUMNS", "build_parser", "main", "evaluate", "summarize"]

#: Columns of ``robot_arm.csv``.
COLUMNS = ("model", "trajectory", "stage", "mse")
#: Full and quick sizes: controller and generator neurons, steps, meta-training budget, test trajectories.
FULL = dict(n_neurons=100, n_generator=200, n_steps=250, batch_size=16, meta_seconds=540.0, n_iterations=5000,
            n_trajectories=50)
QUICK = dict(n_neurons=12, n_generator=16, n_steps=60, batch_size=4, meta_seconds=5.0, n_iterations=4,
             n_trajectories=3)
#: Chip times (seconds): reads before the update, and the write (and reads) of the update.
T_READ, T_WRITE = 60.0, 120.0
#: Seed of the new (test) trajectories, apart from the meta-training stream.
TEST_SEED = 20250


def build_parser():
    """The study's command-line parser.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(prog="python -m sklearn_aimc robot-arm", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds (what CI runs)")
    parser.add_argument("--output-dir", default="robot-arm-results", help="where to write the results")
    parser.add_argument("--weights", default=None, help="exported weights (.npz) to use instead of meta-training")
    parser.add_argument("--trajectories", type=int, default=None, help="new trajectories to learn (default 50)")
    parser.add_argument("--meta-seconds", type=float, default=None, help="CPU budget of meta-training")
    parser.add_argument("--seed", type=int, default=0, help="seed of meta-training and of the chip")
    return parser


def _meta_train(sizes, seed):
    try:
        from ..torch.spiking import export_weights, meta_train
    except ImportError as exc:
        raise SystemExit(f"Meta-training needs torch (pip install sklearn-aimc[torch]), or pass --weights: {exc}")
    import torch

    torch.set_num_threads(1)
    start = time.process_time()
    model, history = meta_train(sizes["n_neurons"], sizes["n_generator"], n_iterations=sizes["n_iterations"],
                                batch_size=sizes["batch_size"], n_steps=sizes["n_steps"],
                                time_budget=sizes["meta_seconds"], random_state=seed)
    weights = export_weights(model)
    weights["meta_training_seconds"] = np.array(time.process_time() - start)
    weights["meta_training_history"] = np.array(history)
    weights["batch_size"] = np.array(sizes["batch_size"])
    return weights


def _networks(weights):
    n_clock = int(weights["n_clock"])
    n_gen_inputs = n_clock + 2 * int(weights["n_per_dimension"])
    controller = LIFNetwork(weights["controller_weights"][:n_clock], weights["controller_weights"][n_clock:],
                            weights["controller_output"])
    generator = LIFNetwork(weights["generator_weights"][:n_gen_inputs], weights["generator_weights"][n_gen_inputs:],
                           weights["generator_output"], threshold=1.3, adaptive=weights["generator_adaptive"])
    return controller, generator


def _presynaptic(clock, run):
    """The presynaptic vectors [x(t); z(t-1)] of a single run, shape (n_steps, n_presynaptic)."""
    spikes = run["spikes"][0]
    return np.concatenate([clock, np.vstack([np.zeros((1, spikes.shape[1])), spikes[:-1]])], axis=1)


def evaluate(weights, n_trajectories, n_steps, seed=0, device="hermes"):
    """Losses before and after the one update, software and chip, over new trajectories.

    Parameters
    ----------
    weights : dict of ndarray
        Exported weights (:func:`sklearn_aimc.torch.spiking.export_weights`).
    n_trajectories : int
        New target trajectories.
    n_steps : int
        Steps of each.
    seed : int, default=0
        Seeds the chip and the stochastic rounding.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        The chip of the ``hermes`` rows.

    Returns
    -------
    rows : list of dict
        ``model, trajectory, stage, mse`` rows.
    curves : dict of ndarray
        Targets and produced velocities (``target``, ``before``, ``software``,
        ``hermes``, each of shape (n_trajectories, n_steps, 2)) and the
        devices written per trajectory (``device_writes``).
    """
    controller, generator = _networks(weights)
    eta = float(weights["learning_rate"])
    n_clock = int(weights["n_clock"])
    targets = random_trajectories(n_trajectories, n_steps, random_state=TEST_SEED + seed)
    clock = clock_input(n_steps, n_clock)
    generator_inputs = np.concatenate(
        [np.broadcast_to(clock, (n_trajectories, n_steps, n_clock)), encode_targets(targets,
                                                                                      int(weights["n_per_dimension"]))],
        axis=2)
    signals = generator.run(generator_inputs)["outputs"]
    clocks = np.repeat(clock[None], n_trajectories, axis=0)

    first = controller.run(clock[None])
    first_b = {key: np.repeat(value, n_trajectories, axis=0) for key, value in first.items()}
    update = eprop_update(first_b, signals, eta)
    software_after = controller.run(clocks, weights=controller.weights[None] + update)["outputs"]

    chip = ChipWeights(controller.weights, device, calibration_inputs=_presynaptic(clock, first),
                       random_state=seed, t_inference=T_READ)
    chip_first = controller.run(clock[None], product=chip.product)
    chip_first_b = {key: np.repeat(value, n_trajectories, axis=0) for key, value in chip_first.items()}
    chip_update = eprop_update(chip_first_b, signals, eta)
    rng = np.random.default_rng(seed)
    hermes_after, writes = np.zeros_like(software_after), []
    for k in range(n_trajectories):
        trained = copy.deepcopy(chip)
        writes.append(trained.write_update(chip_update[k], at=T_WRITE, random_state=rng))
        hermes_after[k] = controller.run(clock[None], product=trained.product)["outputs"][0]

    losses = {
        ("software", "before"): trajectory_loss(np.broadcast_to(first["outputs"], targets.shape), targets),
        ("software", "after"): trajectory_loss(software_after, targets),
        ("hermes", "before"): trajectory_loss(np.broadcast_to(chip_first["outputs"], targets.shape), targets),
        ("hermes", "after"): trajectory_loss(hermes_after, targets),
    }
    rows = [{"model": model, "trajectory": k, "stage": stage, "mse": float(values[k])}
            for (model, stage), values in losses.items() for k in range(n_trajectories)]
    curves = {"target": targets, "before": np.broadcast_to(first["outputs"], targets.shape),
              "software": software_after, "hermes": hermes_after, "device_writes": np.array(writes),
              "n_weights": controller.weights.size}
    return rows, curves


def summarize(rows):
    """Mean loss of every (model, stage) and the ratios the targets are about.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`evaluate`.

    Returns
    -------
    summary : dict of float
        ``mean[(model, stage)]``, ``ratio_software`` and ``ratio_hermes``
        (mean after / mean before), ``chip_vs_software`` (hermes after /
        software after), and the per-trajectory fractions halved.
    """
    def losses(model, stage):
        return np.array([r["mse"] for r in rows if r["model"] == model and r["stage"] == stage])

    summary = {"mean": {(m, s): float(losses(m, s).mean()) for m in ("software", "hermes")
                        for s in ("before", "after")}}
    for model in ("software", "hermes"):
        summary[f"ratio_{model}"] = summary["mean"][(model, "after")] / summary["mean"][(model, "before")]
        summary[f"halved_{model}"] = float(np.mean(losses(model, "after") <= 0.5 * losses(model, "before")))
    summary["chip_vs_software"] = summary["mean"][("hermes", "after")] / summary["mean"][("software", "after")]
    return summary


def _plot(curves, path, n_shown=3):
    Figure = figure_class()
    if Figure is None:
        return False
    n_shown = min(n_shown, curves["target"].shape[0])
    fig = Figure(figsize=(4 * n_shown, 4))
    styles = [("target", "k", "-", "target"), ("before", "tab:gray", ":", "before the update"),
              ("software", "tab:blue", "--", "software, after"), ("hermes", "tab:orange", "-", "HERMES, after")]
    for k in range(n_shown):
        ax = fig.add_subplot(1, n_shown, k + 1)
        for key, color, style, label in styles:
            xy = forward_kinematics(joint_angles(curves[key][k]))
            ax.plot(xy[:, 0], xy[:, 1], color=color, linestyle=style, label=label)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"new trajectory {k}")
        ax.set_xlabel("x")
        if k == 0:
            ax.set_ylabel("y")
            ax.legend(fontsize=8)
    fig.suptitle("End-effector paths: target and after one e-prop update")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def _markdown(summary, curves, weights, command, wall, cpu, sizes, plotted, rounding_only, seed):
    mean = summary["mean"]
    table = markdown_table(
        ["model", "loss before", "loss after", "after / before", "trajectories halved"],
        [[m, f"{mean[(m, 'before')]:.4f}", f"{mean[(m, 'after')]:.4f}", f"{summary[f'ratio_{m}']:.3f}",
          f"{summary[f'halved_{m}']:.0%}"] for m in ("software", "hermes")])
    n_weights = curves["n_weights"]
    writes = curves["device_writes"]
    history = weights.get("meta_training_history")
    trained = f"{len(history)} iterations" if history is not None else "unknown"
    def verdict(model):
        return "yes" if summary[f"ratio_{model}"] <= 0.5 else "no"

    lines = [
        "# Robot arm: one on-chip e-prop update learns a new trajectory",
        "",
        f"Command: `{command}`",
        "",
        f"Wall time {wall:.1f} s, CPU time {cpu:.1f} s (evaluation); meta-training "
        f"{float(weights.get('meta_training_seconds', np.nan)):.0f} s CPU ({trained}, batch "
        f"{int(weights.get('batch_size', sizes['batch_size']))}).",
        "",
        f"Meta-training (the study's, without `--weights`): `sklearn_aimc.torch.spiking.meta_train("
        f"{sizes['n_neurons']}, {sizes['n_generator']}, batch_size={sizes['batch_size']}, "
        f"time_budget={sizes['meta_seconds']:g}, random_state={seed})`, one thread.",
        "",
        f"Controller {weights['controller_output'].shape[0]} LIF neurons, generator "
        f"{weights['generator_output'].shape[0]} neurons (30 % adaptive), {sizes['n_steps']} steps of 1 ms, "
        f"{curves['target'].shape[0]} new trajectories; loss = 0.5 MSE(velocity) + 0.5 MSE(position).",
        "",
        table,
        "",
        f"Chip after update / software after update: {summary['chip_vs_software']:.3f} "
        f"(target: within 20 %, i.e. at most 1.2). One update halves the mean loss: software "
        f"{verdict('software')}, HERMES {verdict('hermes')}.",
        "",
        f"Diagnostic: an exact chip (`device=\"ideal\"`) with the same 1/16 stochastic rounding of the update "
        f"gives {rounding_only:.3f} times software's loss after the update: the rounding's share of the gap.",
        "",
        f"Devices written per update: {writes.mean():.0f} on average (of {4 * n_weights} devices of "
        f"{n_weights} weights, 4 per weight).",
        "",
        "![target and produced trajectories](robot_arm.png)" if plotted else MATPLOTLIB_NOTE,
        "",
        f"Machine: {machine_info()['platform']}",
        "",
    ]
    return "\n".join(lines)


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
    sizes = dict(QUICK if args.quick else FULL)
    if args.trajectories is not None:
        if args.trajectories < 1:
            build_parser().error("--trajectories must be at least 1")
        sizes["n_trajectories"] = args.trajectories
    if args.meta_seconds is not None:
        sizes["meta_seconds"] = args.meta_seconds
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    if args.weights is not None:
        with np.load(args.weights) as data:
            weights = {key: data[key] for key in data.files}
    else:
        weights = _meta_train(sizes, args.seed)
        np.savez(output / "robot_arm_weights.npz", **weights)
    start, cpu_start = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():  # about 1 % of the ADC outputs clip (spike bursts); said in the docs
        warnings.simplefilter("ignore", AnalogClippingWarning)
        rows, curves = evaluate(weights, sizes["n_trajectories"], sizes["n_steps"], seed=args.seed)
    exact_rows, _ = evaluate(weights, sizes["n_trajectories"], sizes["n_steps"], seed=args.seed, device="ideal")
    rounding_only = summarize(exact_rows)["chip_vs_software"]
    with open(output / "robot_arm.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    plotted = _plot(curves, output / "robot_arm.png")
    command = ("python -m sklearn_aimc robot-arm " + " ".join(argv)).strip()
    text = _markdown(summarize(rows), curves, weights, command, time.perf_counter() - start,
                     time.process_time() - cpu_start, sizes, plotted, rounding_only, args.seed)
    (output / "robot_arm.md").write_text(text)
    print(text)
    return 0

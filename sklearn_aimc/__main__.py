"""Command line of sklearn-aimc: ``python -m sklearn_aimc`` (or ``sklearn-aimc``).

Without a sub-command it runs the main job, :func:`sklearn_aimc.study.demo`:
float versus simulated-HERMES random-feature classification on data bundled
with scikit-learn.  ``python -m sklearn_aimc <study> [options]`` runs one of
the studies of :data:`SUBCOMMANDS` (see ``python -m sklearn_aimc <study> --help``).
"""

import argparse
import importlib
import sys

from .study import BUNDLED_DATASETS, demo

#: Sub-commands: name -> (module with ``main(argv) -> int``, what it runs).
#: Modules are imported only when their sub-command runs.
SUBCOMMANDS = {
    "reproduce": ("sklearn_aimc.experiments.kernel_ridge", "the paper's kernel-ridge chip study"),
    "drift": ("sklearn_aimc.experiments.drift", "the drift study of a deployed chip"),
    "faults": ("sklearn_aimc.experiments.faults", "stuck devices with and without fault-aware programming"),
    "calibration": ("sklearn_aimc.experiments.calibration", "percentile and robust converter calibration"),
    "attention": ("sklearn_aimc.experiments.attention", "the attention studies (--task error | listops)"),
    "nmpu": ("sklearn_aimc.experiments.nmpu", "MLPs on the chip: the fixed-point NMPU against FP16 post-processing"),
    "few-shot": ("sklearn_aimc.experiments.few_shot", "MAML few-shot tasks adapted in software and on the chip"),
    "robot-arm": ("sklearn_aimc.experiments.robot_arm", "one on-chip e-prop update of a spiking robot-arm controller"),
}


def build_parser():
    """The parser of the main job (``python -m sklearn_aimc [options]``).

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_aimc.__main__ import build_parser
    >>> build_parser().parse_args(["--seeds", "2"]).seeds
    2
    """
    commands = "; ".join(
        f"'python -m sklearn_aimc {name} [options]' runs {what}" for name, (_, what) in SUBCOMMANDS.items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_aimc",
        description=(
            "Float versus simulated-HERMES random-feature kernel classification "
            "on a dataset bundled with scikit-learn."
        ),
        epilog=f"sub-commands: {commands} (see their --help).",
    )
    parser.add_argument("--dataset", choices=sorted(BUNDLED_DATASETS), default="breast_cancer")
    parser.add_argument("--k", type=int, default=3, help="s = 2^k d - k projections (default 3)")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    parser.add_argument("--gamma", type=float, default=0.05, help="RBF gamma (default 0.05)")
    return parser


def main(argv=None):
    """Run the main job or a sub-command; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int

    Examples
    --------
    >>> from sklearn_aimc.__main__ import main
    >>> main(["--seeds", "1", "--k", "1"])  # doctest: +SKIP
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:
        module, _ = SUBCOMMANDS[argv[0]]
        return importlib.import_module(module).main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.k < 1 or args.seeds < 1:
        build_parser().error("--k and --seeds must be at least 1")
    demo(args.dataset, k=args.k, n_seeds=args.seeds, gamma=args.gamma)
    return 0


if __name__ == "__main__":
    sys.exit(main())

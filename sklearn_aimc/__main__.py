"""Command line of sklearn-aimc: ``python -m sklearn_aimc`` (or ``sklearn-aimc``).

Without a sub-command it runs the main job, :func:`sklearn_aimc.study.demo`:
float versus simulated-HERMES random-feature classification on data bundled
with scikit-learn.  ``python -m sklearn_aimc reproduce [options]`` runs the
reproduction study of the paper's chip experiments
(:mod:`sklearn_aimc.reproduce`; see ``python -m sklearn_aimc reproduce --help``);
``python -m sklearn_aimc attention --task ...`` the attention studies
(:mod:`sklearn_aimc.experiments.attention`).
"""

import argparse
import sys

from .study import BUNDLED_DATASETS, demo


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_aimc",
        description=(
            "Float versus simulated-HERMES random-feature kernel classification "
            "on a dataset bundled with scikit-learn."
        ),
        epilog=(
            "sub-command: 'python -m sklearn_aimc reproduce [options]' reproduces the paper's "
            "kernel-ridge chip study on the benchmark datasets (see its --help); "
            "'python -m sklearn_aimc attention --task error|listops' runs the attention studies."
        ),
    )
    parser.add_argument("--dataset", choices=sorted(BUNDLED_DATASETS), default="breast_cancer")
    parser.add_argument("--k", type=int, default=3, help="s = 2^k d - k projections (default 3)")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    parser.add_argument("--gamma", type=float, default=0.05, help="RBF gamma (default 0.05)")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["reproduce"]:
        from . import reproduce

        return reproduce.main(argv[1:])
    if argv[:1] == ["attention"]:
        from .experiments import attention

        return attention.main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.k < 1 or args.seeds < 1:
        build_parser().error("--k and --seeds must be at least 1")
    demo(args.dataset, k=args.k, n_seeds=args.seeds, gamma=args.gamma)
    return 0


if __name__ == "__main__":
    sys.exit(main())

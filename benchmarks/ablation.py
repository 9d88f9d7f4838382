"""Which non-ideality costs accuracy on the simulated HERMES chip?

Runs the reproduction protocol (``sklearn_aimc.study.evaluate``: random
features with s = 2^5 d - 5 projections, ridge classifier alpha 0.5, float32)
on the datasets whose simulated accuracy drops most, with one effect of the
chip switched on or off at a time, and writes a markdown table.

Usage (from the repository root, with the benchmark datasets beside it)::

    python benchmarks/ablation.py --data-home ../shared/datasets --output benchmarks/results/ablation.md
"""

import argparse
import sys
import time
import warnings

import numpy as np

from sklearn_aimc import AnalogCrossbar
from sklearn_aimc.datasets import load_benchmark
from sklearn_aimc.exceptions import AnalogClippingWarning
from sklearn_aimc.study import evaluate, n_projections

CASES = (("eeg", "rbf"), ("eeg", "arccos"), ("letter", "rbf"), ("ijcnn1", "rbf"))

_IDEAL = dict(pcm="ideal", dac_bits=None, adc_bits=None, output_noise=0.0, drift_compensation=None, post_processing="float")

DEVICES = {
    "float (exact product)": "ideal",
    "HERMES preset": AnalogCrossbar(),
    "HERMES preset, output_noise=0": AnalogCrossbar(output_noise=0.0),
    "ideal + output noise 0.04 only": AnalogCrossbar(**{**_IDEAL, "output_noise": 0.04}),
    "ideal + HERMES devices (1 h, global compensation) only": AnalogCrossbar(
        **{**_IDEAL, "pcm": "hermes", "drift_compensation": "global"}
    ),
    "ideal + 8-bit DAC / ADC and NMPU only": AnalogCrossbar(**{**_IDEAL, "dac_bits": 8, "adc_bits": 8, "post_processing": "fixed"}),
    "HERMES preset, input_percentile=99": AnalogCrossbar(input_percentile=99.0),
    "HERMES preset, t_inference=0": AnalogCrossbar(t_inference=0.0),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--output", default=None, help="markdown file (default: stdout)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    lines = [
        "# Ablation: what costs accuracy on the simulated HERMES chip",
        "",
        f"`python benchmarks/ablation.py {' '.join(sys.argv[1:] if argv is None else argv)}`; "
        f"k = 5, {args.seeds} seeds (mean), RFF, float32.",
        "",
        "| dataset | kernel | device | accuracy (%) | kernel error |",
        "|---|---|---|---|---|",
    ]
    for name, kernel in CASES:
        split = load_benchmark(name, data_home=args.data_home, source="local", dtype=np.float32)
        s = n_projections(split.X_train.shape[1], 5)
        for label, device in DEVICES.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AnalogClippingWarning)
                runs = [
                    evaluate(split.X_train, split.y_train, split.X_test, split.y_test, kernel=kernel,
                             n_components=s, device=device, random_state=seed)
                    for seed in range(args.seeds)
                ]
            accuracy = 100 * np.mean([run["accuracy"] for run in runs])
            error = np.mean([run["kernel_error"] for run in runs])
            lines.append(f"| {name} | {kernel} | {label} | {accuracy:.2f} | {error:.3f} |")
            print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", f"Wall time {time.perf_counter() - start:.0f} s."]
    text = "\n".join(lines) + "\n"
    if args.output:
        with open(args.output, "w") as file:
            file.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

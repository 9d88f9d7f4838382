"""Attention studies: ``python -m sklearn_aimc attention --task error|listops``.

``--task error`` is the attention-error study of Büchel et al. (2024): the
relative Frobenius error ``||A - A_hat||_F / ||A||_F`` of the attention
*output* of FAVOR+ kernelized attention (:class:`~sklearn_aimc.AnalogKernelAttention`)
against exact softmax attention, for ``s = k d - 1`` projections
(k = 1 .. 7), averaged over sequences (one head of one sentence each) and
seeds (a fresh projection and chip per seed), with the projection in float
(the ideal device) and on the simulated HERMES chip (``AnalogCrossbar()``).
The paper used layer-1 queries, keys and values of bert-base (d = 64); here
they are the layer-0 ones of all-MiniLM-L6-v2 (d = 32,
:func:`~sklearn_aimc.datasets.load_minilm_qkv`), plus a synthetic control
(see :func:`attention_sequences`).  At the largest k an ablation switches
the chip's effects off one at a time.

``--task listops`` trains small Performer and Transformer classifiers on
ListOps and evaluates the Performer with its projections on the chip
(:mod:`sklearn_aimc.experiments.listops`; needs the ``torch`` extra, which
is imported only for this task).
"""

import argparse
import csv
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from ..attention import AnalogKernelAttention, softmax_attention
from ..crossbar import AnalogCrossbar
from ..datasets import load_minilm_qkv
from ._records import load_average_note, machine_info

__all__ = [
    "ABLATIONS",
    "ERROR_COLUMNS",
    "GAUSSIAN_SCALE",
    "INPUTS",
    "KS",
    "PAPER_ERRORS",
    "attention_sequences",
    "build_parser",
    "error_study",
    "main",
    "plot_error_study",
    "run_error_study",
    "write_error_summary",
]

#: ``s = k d - 1`` projections for these k (the paper's).
KS = (1, 2, 3, 4, 5, 6, 7)
#: Inputs of the error study (see :func:`attention_sequences`).
INPUTS = ("minilm", "gaussian")
#: Standard deviation of the synthetic queries and keys of ``inputs="gaussian"``.
#: Chosen (ours) so that the float error at k = 1 is about the paper's 0.0995:
#: the control shows how much the chip adds at the paper's level of float error.
GAUSSIAN_SCALE = 0.35
#: The paper's mean errors (bert-base layer 1, d = 64), k = 1 .. 7 (from its
#: public result files, see the reference notes).
PAPER_ERRORS = {
    "float": (0.0995, 0.0767, 0.0778, 0.0612, 0.0616, 0.0538, 0.0550),
    "chip": (0.1096, 0.0909, 0.0840, 0.0790, 0.0759, 0.0741, 0.0722),
}
#: Chip configurations of the ablation at the largest k: HERMES with one
#: effect switched off (parameters of :class:`~sklearn_aimc.AnalogCrossbar`).
ABLATIONS = {
    "hermes, no output noise": {"output_noise": 0.0},
    "hermes, no ADC": {"adc_bits": None, "post_processing": "float"},
    "hermes, no DAC": {"dac_bits": None},
    "hermes, ideal PCM": {"pcm": "ideal", "drift_compensation": None},
    "ideal PCM, periphery only": {"pcm": "ideal", "drift_compensation": None, "output_noise": 0.0},
}
#: Columns of ``attention_error.csv``.
ERROR_COLUMNS = ("inputs", "k", "s", "seed", "device", "sequence", "error")
#: Settings of ``--quick`` (a smoke test of a few seconds).
QUICK = {"ks": (1, 2), "n_seeds": 2, "n_sequences": 4}
FULL = {"ks": KS, "n_seeds": 10, "n_sequences": 10}


def attention_sequences(inputs="minilm", n_sequences=10):
    """The (name, Q, K, V) sequences of one head each, float32, of the error study.

    Parameters
    ----------
    inputs : {"minilm", "gaussian"}, default="minilm"
        ``"minilm"``: layer-0 heads of all-MiniLM-L6-v2 on the shipped
        sentences (:func:`~sklearn_aimc.datasets.load_minilm_qkv`); sequence
        ``j`` is sentence ``j mod 6``, head ``(j + j // 6) mod 12`` (72
        distinct pairs, each sentence a different head first).
        ``"gaussian"``: a control with queries and keys drawn from
        ``N(0, GAUSSIAN_SCALE^2 I_32)``, values from ``N(0, I_32)``, 21
        positions (seeded, ``default_rng(0)``).
    n_sequences : int, default=10

    Returns
    -------
    sequences : list of (str, ndarray, ndarray, ndarray)
        Name and ``(L, 32)`` arrays Q, K, V.
    """
    if inputs == "minilm":
        data = load_minilm_qkv()
        n_sentences, n_heads = len(data.sentences), data.Q[0].shape[0]
        if not 1 <= n_sequences <= n_sentences * n_heads:
            raise ValueError(f"n_sequences must be in [1, {n_sentences * n_heads}], got {n_sequences}.")
        sequences = []
        for j in range(n_sequences):
            sentence, head = j % n_sentences, (j + j // n_sentences) % n_heads
            sequences.append((f"sentence {sentence} head {head}", data.Q[sentence][head],
                              data.K[sentence][head], data.V[sentence][head]))
        return sequences
    if inputs == "gaussian":
        if n_sequences < 1:
            raise ValueError(f"n_sequences must be at least 1, got {n_sequences}.")
        rng = np.random.default_rng(0)
        sequences = []
        for j in range(n_sequences):
            Q, K, V = rng.standard_normal((3, 21, 32), dtype=np.float32)
            sequences.append((f"gaussian {j}", Q * np.float32(GAUSSIAN_SCALE), K * np.float32(GAUSSIAN_SCALE), V))
        return sequences
    raise ValueError(f"inputs must be one of {INPUTS}, got {inputs!r}.")


def _devices(ablation):
    devices = {"float": "ideal", "hermes": AnalogCrossbar()}
    if ablation:
        devices.update({name: AnalogCrossbar(**params) for name, params in ABLATIONS.items()})
    return devices


def run_error_study(inputs=INPUTS, *, ks=KS, n_seeds=10, n_sequences=10, ablation=True, progress=True,
                    csv_path=None):
    """Relative error of the attention output, float and chip, per k, seed and sequence.

    For each k and seed one :class:`~sklearn_aimc.AnalogKernelAttention`
    (FAVOR+, ORF, ``s = k d - 1``, ``random_state=seed``: the same projection
    on every device) is fitted on the queries and keys of all sequences
    (they calibrate the chip) and attends over each sequence.  The ablation
    devices run at the largest k only.

    Parameters
    ----------
    inputs : sequence of {"minilm", "gaussian"}, default=("minilm", "gaussian")
    ks : sequence of int, default=(1, ..., 7)
    n_seeds : int, default=10
    n_sequences : int, default=10
    ablation : bool, default=True
    progress : bool, default=True
        One line per configuration on stderr.
    csv_path : path-like, default=None
        Where to write the rows (columns :data:`ERROR_COLUMNS`).

    Returns
    -------
    rows : list of dict
    """
    rows = []
    for name in inputs:
        sequences = attention_sequences(name, n_sequences)
        # Reference in float64; the approximation runs in float32 like the inputs.
        exact = [softmax_attention(*(a.astype(np.float64) for a in (Q, K, V))) for _, Q, K, V in sequences]
        calibration = np.vstack([np.vstack([Q, K]) for _, Q, K, _ in sequences])
        d = calibration.shape[1]
        for k in ks:
            devices = _devices(ablation and k == max(ks))
            for device_name, device in devices.items():
                start = time.perf_counter()
                for seed in range(n_seeds):
                    attention = AnalogKernelAttention(k * d - 1, device=device, random_state=seed)
                    attention.fit(calibration)
                    for (sequence, Q, K, V), A in zip(sequences, exact):
                        A_hat = attention.attend(Q, K, V)
                        error = float(np.linalg.norm(A_hat - A) / np.linalg.norm(A))
                        rows.append(dict(inputs=name, k=k, s=k * d - 1, seed=seed, device=device_name,
                                         sequence=sequence, error=error))
                if progress:
                    mean = np.mean([r["error"] for r in rows[-n_seeds * len(sequences):]])
                    print(f"{name} k={k} {device_name}: error {mean:.4f} ({time.perf_counter() - start:.1f} s)",
                          file=sys.stderr)
    if csv_path is not None:
        with open(csv_path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=ERROR_COLUMNS)
            writer.writeheader()
            writer.writerows({**row, "error": f"{row['error']:.6g}"} for row in rows)
    return rows


def _per_seed_means(rows, inputs, k, device):
    """Mean error over sequences for each seed."""
    chosen = [r for r in rows if (r["inputs"], r["k"], r["device"]) == (inputs, k, device)]
    seeds = sorted({r["seed"] for r in chosen})
    return np.array([np.mean([r["error"] for r in chosen if r["seed"] == seed]) for seed in seeds])


def _summary_table(rows, inputs):
    ks = sorted({r["k"] for r in rows if r["inputs"] == inputs})
    lines = ["| k | s | float | HERMES | HERMES / float | paper float (d = 64) | paper chip | paper chip / float |",
             "|---|---|---|---|---|---|---|---|"]
    for k in ks:
        s = next(r["s"] for r in rows if (r["inputs"], r["k"]) == (inputs, k))
        f, h = _per_seed_means(rows, inputs, k, "float"), _per_seed_means(rows, inputs, k, "hermes")
        paper = ("", "", "")
        if k <= len(KS):
            pf, pc = PAPER_ERRORS["float"][k - 1], PAPER_ERRORS["chip"][k - 1]
            paper = (f"{pf:.4f}", f"{pc:.4f}", f"{pc / pf:.2f}")
        lines.append(f"| {k} | {s} | {f.mean():.4f} ± {f.std():.4f} | {h.mean():.4f} ± {h.std():.4f} | "
                     f"{h.mean() / f.mean():.3f} | {' | '.join(paper)} |")
    return "\n".join(lines)


def _ablation_table(rows, inputs):
    k = max(r["k"] for r in rows if r["inputs"] == inputs)
    devices = [d for d in dict.fromkeys(r["device"] for r in rows if (r["inputs"], r["k"]) == (inputs, k))]
    base = _per_seed_means(rows, inputs, k, "float").mean()
    lines = [f"| device (k = {k}) | error | / float |", "|---|---|---|"]
    for device in devices:
        means = _per_seed_means(rows, inputs, k, device)
        lines.append(f"| {device} | {means.mean():.4f} ± {means.std():.4f} | {means.mean() / base:.3f} |")
    return "\n".join(lines)


def _input_statistics(inputs, n_sequences):
    """A sentence on the pre-scaled norms and the attention entropy of the inputs."""
    sequences = attention_sequences(inputs, n_sequences)
    q_norms, k_norms, entropies = [], [], []
    for _, Q, K, _ in sequences:
        Q, K = Q.astype(np.float64), K.astype(np.float64)
        scale = Q.shape[1] ** -0.25
        q_norms.append(np.linalg.norm(Q * scale, axis=1).mean())
        k_norms.append(np.linalg.norm(K * scale, axis=1).mean())
        P = softmax_attention(Q, K, np.eye(len(K)))  # the attention matrix itself
        entropies.append(-np.sum(P * np.log(np.where(P > 0, P, 1)), axis=1).mean() / np.log(len(K)))
    return (
        f"Inputs: mean norm of the pre-scaled queries `||q / d^(1/4)||` {np.mean(q_norms):.2f} "
        f"(per sequence {min(q_norms):.2f} - {max(q_norms):.2f}), of the keys {np.mean(k_norms):.2f} "
        f"({min(k_norms):.2f} - {max(k_norms):.2f}); attention entropy {np.mean(entropies):.2f} of the "
        f"uniform one ({min(entropies):.2f} - {max(entropies):.2f}). The variance of a FAVOR+ estimate of "
        f"`exp(q'.k')` grows like `exp(||q' + k'||^2)`: large norms make the estimate noisy."
    )


def write_error_summary(path, rows, *, command="", wall_time=None, cpu_time=None, figure=None):
    """Write the markdown summary of the error study (tables, command, machine, time).

    Parameters
    ----------
    path : path-like
    rows : list of dict
        Rows of :func:`run_error_study`.
    command : str, default=""
    wall_time, cpu_time : float, default=None
        Seconds.
    figure : str, default=None
        File name of the plot, linked from the summary.
    """
    machine = machine_info()
    n_seeds = len({r["seed"] for r in rows})
    lines = ["# Attention-output error of FAVOR+ attention: float vs simulated HERMES", ""]
    lines.append(
        f"Relative error `||A - A_hat||_F / ||A||_F` of the attention output against exact softmax attention, "
        f"mean ± std over {n_seeds} seeds (each: the mean over the sequences) of "
        f"`AnalogKernelAttention(s, feature_map='favor+', sampling='orf')`, s = k d - 1, d = 32; float = "
        f"`device='ideal'`, HERMES = `AnalogCrossbar()` (read 1 h after programming). One projection and chip "
        f"per seed, fitted on the queries and keys of all sequences, the same projection on every device."
    )
    for inputs in dict.fromkeys(r["inputs"] for r in rows):
        n_sequences = len({r["sequence"] for r in rows if r["inputs"] == inputs})
        title = {"minilm": "all-MiniLM-L6-v2, layer-0 heads of real sentences",
                 "gaussian": f"control: Gaussian queries and keys, std {GAUSSIAN_SCALE}"}.get(inputs, inputs)
        lines += ["", f"## {title} ({n_sequences} sequences)", "", _input_statistics(inputs, n_sequences), "",
                  _summary_table(rows, inputs)]
        if len({r["device"] for r in rows if r["inputs"] == inputs}) > 2:
            lines += ["", "Ablation (which chip effect costs what):", "", _ablation_table(rows, inputs)]
    if figure:
        lines += ["", f"![error against projections]({figure})"]
    lines += ["", "## Run", "", f"- Command: `{command}`"]
    if wall_time is not None:
        lines.append(f"- Wall time: {wall_time:.1f} s" + (f", CPU time {cpu_time:.1f} s" if cpu_time else "")
                     + f" ({load_average_note()})")
    lines.append(f"- Machine: {machine['platform']}, {machine['processor']}, {machine['cpu_count']} CPUs, "
                 f"Python {machine['python']}, BLAS {machine['blas']}; {machine['packages']}")
    Path(path).write_text("\n".join(lines) + "\n")


def plot_error_study(rows, path):
    """Error against ``s / d`` (float solid, HERMES dashed, paper dotted); returns the path or None.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`run_error_study`.
    path : path-like
        The PNG to write.

    Returns
    -------
    path : pathlib.Path or None
        None when matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    colors = dict(zip(INPUTS, ("tab:blue", "tab:orange")))
    for inputs in dict.fromkeys(r["inputs"] for r in rows):
        ks = sorted({r["k"] for r in rows if r["inputs"] == inputs})
        for device, style, label in (("float", "-", "float"), ("hermes", "--", "HERMES")):
            means = np.array([_per_seed_means(rows, inputs, k, device) for k in ks])
            ax.errorbar(ks, means.mean(axis=1), yerr=means.std(axis=1), color=colors.get(inputs), linestyle=style,
                        marker="o", markersize=3, capsize=2, label=f"{inputs}, {label}")
    for device, label in (("float", "float"), ("chip", "chip")):
        ax.plot(KS, PAPER_ERRORS[device], color="gray", linestyle=":" if device == "float" else "-.",
                marker="x", markersize=3, label=f"paper (bert-base, d = 64), {label}")
    ax.set_xlabel("k  (s = k d - 1 projections)")
    ax.set_ylabel("relative error of the attention output")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=120)
    return Path(path)


def error_study(output_dir, *, inputs=INPUTS, ks=None, n_seeds=None, n_sequences=None, ablation=True,
                quick=False, progress=True, command=""):
    """Run the error study and write ``attention_error.csv``, ``.png`` and ``.md`` to ``output_dir``.

    Parameters
    ----------
    output_dir : path-like
    inputs : sequence of str, default=INPUTS
    ks : sequence of int, default=None
        :data:`KS`, or (1, 2) when ``quick``.
    n_seeds, n_sequences : int, default=None
        10 and 10, or 2 and 4 when ``quick``.
    ablation : bool, default=True
    quick : bool, default=False
    progress : bool, default=True
    command : str, default=""
        Recorded in the summary.

    Returns
    -------
    rows : list of dict
        The rows of :func:`run_error_study`.
    """
    settings = QUICK if quick else FULL
    ks = tuple(ks or settings["ks"])
    n_seeds = n_seeds or settings["n_seeds"]
    n_sequences = n_sequences or settings["n_sequences"]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    start, cpu_start = time.perf_counter(), time.process_time()
    rows = run_error_study(inputs, ks=ks, n_seeds=n_seeds, n_sequences=n_sequences, ablation=ablation,
                           progress=progress, csv_path=output_dir / "attention_error.csv")
    figure = plot_error_study(rows, output_dir / "attention_error.png")
    write_error_summary(output_dir / "attention_error.md", rows, command=command,
                        wall_time=time.perf_counter() - start, cpu_time=time.process_time() - cpu_start,
                        figure=figure.name if figure else None)
    if progress:
        print(f"wrote {output_dir}", file=sys.stderr)
    return rows


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def build_parser():
    """The parser of ``python -m sklearn_aimc attention``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_aimc attention",
        description=(
            "Kernelized attention with the FAVOR+ projection on a simulated HERMES chip. "
            "--task error: attention-output error against softmax attention, float vs chip, "
            "s = k d - 1 projections (writes attention_error.csv / .png / .md). "
            "--task listops: Performer and Transformer trained on ListOps in PyTorch, the Performer "
            "evaluated in numpy with its projections on the chip (writes listops.csv / .md; needs "
            "the torch extra)."
        ),
    )
    parser.add_argument("--task", choices=["error", "listops"], required=True, help="which study to run")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test of seconds (error: k 1 2, 2 seeds, 4 sequences; listops: "
                             "230 samples, 10 steps, 2 chip seeds)")
    parser.add_argument("--output-dir", default="attention-results", metavar="DIR",
                        help="where results are written (default attention-results)")
    parser.add_argument("--seeds", type=_positive_int, dest="n_seeds", metavar="N",
                        help="number of seeds of the projection and chip (default: error 10, listops 3)")
    error = parser.add_argument_group("--task error")
    error.add_argument("--k", nargs="+", type=_positive_int, dest="ks", metavar="K",
                       help="s = k d - 1 projections (default 1 .. 7)")
    error.add_argument("--n-sequences", type=_positive_int, metavar="N",
                       help="sequences (one head of one sentence each; default 10)")
    error.add_argument("--inputs", nargs="+", choices=INPUTS, default=list(INPUTS),
                       help="minilm (real heads) and/or gaussian (control); default both")
    parser.add_argument("--ablation", action=argparse.BooleanOptionalAction, default=True,
                        help="chip ablation (error: at the largest k; listops: full runs only; default on)")
    listops = parser.add_argument_group("--task listops")
    listops.add_argument("--steps", type=_positive_int, metavar="N", help="training steps (default 1600)")
    listops.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                         help="PyTorch threads (default 1)")
    listops.add_argument("--hardware-aware-steps", type=int, metavar="N",
                         help="hardware-aware fine-tuning steps of the Performer (default 400; 0: none)")
    listops.add_argument("--from-weights", metavar="DIR",
                         help="evaluate the trained weights of an earlier run in DIR instead of training")
    return parser


def main(argv=None):
    """``python -m sklearn_aimc attention [options]``.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    command = shlex.join(["python", "-m", "sklearn_aimc", "attention", *argv])
    if args.task == "listops":
        try:
            from .listops import listops_study
        except ImportError as exc:  # torch missing
            print(f"python -m sklearn_aimc attention: error: --task listops needs PyTorch "
                  f"(pip install 'sklearn-aimc[torch]'): {exc}", file=sys.stderr)
            return 1
        if args.hardware_aware_steps is not None and args.hardware_aware_steps < 0:
            parser.error("--hardware-aware-steps must be at least 0")
        listops_study(args.output_dir, quick=args.quick, chip_seeds=args.n_seeds, steps=args.steps,
                      hardware_aware_steps=args.hardware_aware_steps, from_weights=args.from_weights,
                      ablation=None if args.ablation else False,
                      threads=args.threads, command=command)
        return 0
    try:
        error_study(args.output_dir, inputs=tuple(args.inputs), ks=args.ks, n_seeds=args.n_seeds,
                    n_sequences=args.n_sequences, ablation=args.ablation, quick=args.quick, command=command)
    except ValueError as exc:
        parser.error(str(exc))
    return 0

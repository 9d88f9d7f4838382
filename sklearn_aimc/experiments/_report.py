"""Statistics over seeds and Markdown tables shared by the studies' summaries."""

import numpy as np

from ._common import FLOAT_DEVICE


def stats(values, scale=1.0):
    """(mean, population std) of ``values * scale``."""
    values = np.asarray(values, dtype=float) * scale
    return float(values.mean()), float(values.std())


def pm(pair, scale=1.0, digits=2):
    """``mean ± std`` of a (mean, std) pair."""
    mean, std = pair
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def markdown_table(header, rows):
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def time_label(t):
    """Seconds as the largest whole unit: ``1 s``, ``1 min``, ``1 h``, ``30 days``, ``1 year``."""
    units = ((360 * 86400, "year"), (86400, "day"), (3600, "h"), (60, "min"), (1, "s"))
    for size, unit in units:
        if t >= size and t % size == 0:
            n = int(t // size)
            if unit in ("year", "day"):
                return f"{n} {unit}" + ("s" if n > 1 else "")
            return f"{n} {unit}"
    return f"{t:g} s"


def summarize(rows):
    """Mean and standard deviation over seeds of every configuration.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`~sklearn_aimc.experiments.kernel_ridge.run_study`
        (float and chip runs).

    Returns
    -------
    summary : list of dict
        One per (dataset, kernel, method, k), in the order of ``rows``, with
        ``dataset, kernel, method, k, s, chip`` (the chip's device name),
        ``n_seeds``, and ``(mean, std)`` pairs: ``float_accuracy``,
        ``chip_accuracy`` (fractions), ``drop`` (float minus chip accuracy,
        paired by seed, in percentage points), ``float_kernel_error`` and
        ``chip_kernel_error``.

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import summarize
    >>> run = dict(dataset="eeg", kernel="rbf", method="rff", k=1, s=27, kernel_error=0.5)
    >>> rows = [dict(run, seed=0, device="float", accuracy=0.8),
    ...         dict(run, seed=0, device="hermes", accuracy=0.7)]
    >>> item = summarize(rows)[0]
    >>> item["chip"], item["n_seeds"], round(item["drop"][0], 6)
    ('hermes', 1, 10.0)
    """
    groups = {}
    for row in rows:
        key = (row["dataset"], row["kernel"], row["method"], row["k"])
        group = groups.setdefault(key, {"s": row["s"], "float": {}, "chip": {}, "chip_name": None})
        if row["device"] == FLOAT_DEVICE:
            group["float"][row["seed"]] = row
        else:
            group["chip"][row["seed"]] = row
            group["chip_name"] = row["device"]
    summary = []
    for (dataset, kernel, method, k), group in groups.items():
        seeds = sorted(set(group["float"]) & set(group["chip"]))
        if not seeds:
            continue
        exact = [group["float"][seed] for seed in seeds]
        chip = [group["chip"][seed] for seed in seeds]
        float_acc = np.array([row["accuracy"] for row in exact])
        chip_acc = np.array([row["accuracy"] for row in chip])
        summary.append(
            {
                "dataset": dataset,
                "kernel": kernel,
                "method": method,
                "k": k,
                "s": group["s"],
                "chip": group["chip_name"],
                "n_seeds": len(seeds),
                "float_accuracy": stats(float_acc),
                "chip_accuracy": stats(chip_acc),
                "drop": stats(float_acc - chip_acc, 100.0),
                "float_kernel_error": stats([row["kernel_error"] for row in exact]),
                "chip_kernel_error": stats([row["kernel_error"] for row in chip]),
            }
        )
    return summary

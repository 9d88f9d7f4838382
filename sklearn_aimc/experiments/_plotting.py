"""matplotlib helpers of the studies' figures (matplotlib stays optional: no pyplot, no backend switch)."""

#: Shown instead of figures when matplotlib is missing.
MATPLOTLIB_NOTE = (
    "matplotlib is not installed: no figures were drawn "
    "(install it with `pip install sklearn-aimc[plot]`)."
)

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def figure_class():
    """matplotlib's Figure, or None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def null_locator():
    """A tick locator that places no ticks."""
    from matplotlib.ticker import NullLocator

    return NullLocator()


def plain_log_axis(axis):
    """Log-scale ticks at 1, 2, 3, 5 x 10^n, labelled as plain numbers (0.05, 0.1, 0.2)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def band(ax, x, mean, std, color, linestyle, label):
    """A mean line with a ± std band."""
    ax.plot(x, mean, color=color, linestyle=linestyle, marker="o", markersize=3, label=label)
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15, linewidth=0)

"""Figure and axis helpers of the report's plots: the Agg figure, mathtext off, log and symlog
axes where values span orders of magnitude, and tick labels in dollars and SI prefixes (never
e-notation)."""

from __future__ import annotations

import functools
import io
import math
from typing import Any, Callable, Sequence

from bench.energy import EnergyKind
from bench.report import Plot
from bench.units import SI_PREFIXES, plain_decimals


def _new_figure(width: float = 7.5, height: float = 4.8):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _plain_text(plot: Callable[..., Plot]) -> Callable[..., Plot]:
    """Draw with mathtext off: device names and other data are drawn as written, never parsed
    (a name holding "$...$" would otherwise be typeset, or crash the renderer)."""

    @functools.wraps(plot)
    def wrapper(*args: Any, **kwargs: Any) -> Plot:
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)

    return wrapper


def _marker_face(energy_kind: str, color: Any) -> Any:
    # Filled marks are measured; hollow marks are estimates, so an estimate never looks measured.
    return color if energy_kind == EnergyKind.MEASURED else "none"


def _joules_per_terahash_axis(ax) -> None:
    # J/TH = 1e12 / (hashes/J): the same bar heights on the scale miners quote, decreasing upward.
    import numpy as np

    def invert(values):
        values = np.asarray(values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, 1e12 / np.where(values > 0, values, 1.0), np.inf)

    secondary = ax.secondary_yaxis("right", functions=(invert, invert))
    secondary.set_ylabel("joules per terahash (lower is better)", fontsize=8)
    from matplotlib.ticker import LogLocator, NullFormatter

    secondary.yaxis.set_major_locator(LogLocator(base=10))
    secondary.yaxis.set_minor_formatter(NullFormatter())
    secondary.yaxis.set_major_formatter(_formatter(si_label))
    secondary.tick_params(labelsize=7)


def _log_if_wide(ax, axis: str, values: Sequence[float], label: Callable[[float], str] | None = None) -> bool:
    # Devices differ by orders of magnitude (a CPU against an ASIC): a linear axis would hide most of them.
    positive = [v for v in values if v and v > 0]
    if len(positive) >= 2 and max(positive) / min(positive) > 30:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        plain_log_ticks(ax.xaxis if axis == "x" else ax.yaxis, label or si_label)
        return True
    return False


def _symlog_if_wide(ax, values: Sequence[float], linear_to: float | None) -> None:
    # Profit runs from minus the power cost (a CPU mining) to tens of dollars (AI work): linear up to
    # about a kWh's price, log beyond, so a few cents of loss and dollars of profit both stay readable.
    finite = [v for v in values if math.isfinite(v)]
    nonzero = [abs(v) for v in finite if v]
    if not finite:
        return
    top, bottom = max(finite), min(finite)
    if linear_to and nonzero and max(nonzero) / linear_to > 30:
        from matplotlib.ticker import NullFormatter

        ax.set_yscale("symlog", linthresh=linear_to, linscale=1.5)
        ax.yaxis.set_minor_formatter(NullFormatter())
        # headroom in the log part, so a flat line at the top is not drawn on the frame
        ax.set_ylim(bottom * 1.5 if bottom < 0 else bottom / 1.5, top * 2 if top > 0 else top / 2)
    else:
        pad = 0.08 * ((top - bottom) or abs(top) or 1.0)
        ax.set_ylim(bottom - pad, top + pad)


def plain_log_ticks(axis, label: Callable[[float], str] | None = None) -> None:
    """Log-axis tick labels without mathtext (the plots draw with it off) and without e-notation:
    ``label`` writes each (default: a plain decimal, 0.0001 or 1,000,000)."""
    from matplotlib.ticker import NullFormatter

    axis.set_major_formatter(_formatter(label or plain_number))
    axis.set_minor_formatter(NullFormatter())


def _si_ticks(axis) -> None:
    axis.set_major_formatter(_formatter(si_label))


def _formatter(label: Callable[[float], str]):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: label(value))


_MONEY_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def usd_label(value: float) -> str:
    """A dollar tick label: $50k, $100k, $1.5M, $2, $0.05, -$0.1; never e-notation."""
    return _scaled_label(value, "$", _MONEY_SUFFIXES, "")


def si_label(value: float) -> str:
    """A tick label with an SI prefix: 50 G, 20.5 M, 400 k, 30, 0.9; never e-notation."""
    return _scaled_label(value, "", SI_PREFIXES, " ")


def _scaled_label(value: float, currency: str, scales: tuple[tuple[float, str], ...], gap: str) -> str:
    if value == 0:
        return f"{currency}0"
    sign, magnitude = ("-" if value < 0 else ""), abs(value)
    for scale, suffix in scales:
        if magnitude >= scale * 0.9995:  # 999,999.9 reads $1M, not $1000k
            return f"{sign}{currency}{plain_decimals(magnitude / scale)}{gap}{suffix}"
    return f"{sign}{currency}{plain_decimals(magnitude)}"


def plain_number(value: float) -> str:
    """A plain decimal: 0.0001, 12.5, 1,000,000; never e-notation."""
    if value == 0:
        return "0"
    sign, magnitude = ("-" if value < 0 else ""), abs(value)
    if magnitude >= 1000:
        return f"{sign}{magnitude:,.0f}"
    return f"{sign}{plain_decimals(magnitude)}"


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return [palette(i % 10) for i in range(n)]

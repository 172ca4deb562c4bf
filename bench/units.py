"""How numbers are written for people: the one formatter module behind run, economics, compare
and report. Three styles, each for a reason; JSON, CSV and result files carry the full values.

  si(37_938_631.5)      -> '37.9 M'   rates and per-joule figures, whose scale spans 1e1..1e11
  fmt(-0.0199, money=True) -> '-$0.0199'  money and plain amounts: thousands separated, M/B/T above
  format_number(6.6e6)  -> '6.612e+06' comparison cells, 4 significant digits, no prefix to misread
"""

from __future__ import annotations

import math

_SI = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float | None, digits: int = 3) -> str:
    """``digits`` significant digits with an SI prefix and a trailing space for the unit:
    7.41e10 -> '74.1 G', 5.02 -> '5.02 '; '-' for none."""
    if value is None:
        return "-"
    for scale, prefix in _SI:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}"
    return f"{value:.{digits}g} "


def fmt(value: float | None, *, money: bool = False) -> str:
    """Short human number: 3 significant digits, thousands separated, millions and up as M/B/T;
    '-' for none or a value that is not finite."""
    if value is None or not math.isfinite(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1e6:
        scale, suffix = next((s, x) for s, x in ((1e12, "T"), (1e9, "B"), (1e6, "M")) if magnitude >= s)
        text = f"{magnitude / scale:.3g}{suffix}"
    elif magnitude >= 1000:
        text = f"{magnitude:,.0f}"
    elif magnitude == 0 or magnitude >= 0.01:
        text = f"{magnitude:.3g}"
    else:
        text = f"{magnitude:.2g}"
    return ("-" if value < 0 else "") + ("$" if money else "") + text


def format_number(value: float | None) -> str:
    """4 significant digits, '-' for none: a comparison cell's value."""
    if value is None:
        return "-"
    return f"{value:.4g}"

"""How numbers are written for people: the one formatter module behind run, economics, compare
and report. Never e-notation: a procurement reader should not meet 8.333e+10. JSON, CSV and
result files carry the full values.

  si(37_938_631.5)         -> '37.9 M'    rates and per-joule figures (SI prefixes, 1e-9..1e18)
  fmt(-0.0199, money=True) -> '-$0.0199'  money and plain amounts: thousands separated, M/B/T
                                          above, plain decimals below (0.0000011, not 1.1e-06)
  format_number(6.6e6)     -> '6.612 M'   comparison cells: 4 significant digits, SI prefixes
  ratio(7.93e-05)          -> '1/12,600'  a row's ratio to the best
"""

from __future__ import annotations

import math

SI_PREFIXES = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_SI_SMALL = ((1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))


def si(value: float | None, digits: int = 3) -> str:
    """``digits`` significant digits with an SI prefix and a trailing space for the unit:
    7.41e10 -> '74.1 G', 5.02 -> '5.02 '; '-' for none."""
    if value is None or not math.isfinite(value):
        return "-"
    for scale, prefix in SI_PREFIXES:
        if abs(value) >= scale:
            return f"{_digits(value / scale, digits)} {prefix}"
    if value == 0 or abs(value) >= 0.1:
        return f"{_digits(value, digits)} "
    for scale, prefix in _SI_SMALL:
        if abs(value) >= scale:
            return f"{_digits(value / scale, digits)} {prefix}"
    return f"{plain_decimals(value, digits)} "


def _digits(value: float, digits: int) -> str:
    """``digits`` significant digits without an exponent (999.6 at 3 digits is '1000', not '1e+03')."""
    text = f"{value:.{digits}g}"
    return text if "e" not in text else f"{value:.0f}"


def plain_decimals(value: float, digits: int = 3) -> str:
    """A number as plain decimals with ``digits`` significant digits, trailing zeros dropped:
    1.1e-06 -> 0.0000011, 150, 1.25."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = min(15, max(0, digits - 1 - math.floor(math.log10(abs(value)))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


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
        text = _digits(magnitude, 3)
    else:
        text = plain_decimals(magnitude, 2)
    return ("-" if value < 0 else "") + ("$" if money else "") + text


def format_number(value: float | None, unit: str = "") -> str:
    """A comparison cell's value: money as money, anything else with 4 significant digits and an
    SI prefix; '-' for none."""
    if value is None:
        return "-"
    if unit.startswith("USD"):
        return fmt(value, money=True)
    return si(value, digits=4).strip()


def ratio(value: float) -> str:
    """A ratio to the best as a reader says it: x0.51, or 1/12,600 where it is tiny."""
    if value >= 0.01:
        return f"x{_digits(value, 3)}"
    return f"1/{fmt(1 / value)}"

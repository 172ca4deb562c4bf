"""The one number formatter: each style keeps what a reader needs and nothing misleading."""

from __future__ import annotations

import pytest

from bench.units import fmt, format_number, si


@pytest.mark.parametrize("value, text", [
    (37_938_631.5, "37.9 M"), (8.333e10, "83.3 G"), (2e14, "200 T"), (1.2e15, "1.2 P"), (5.02, "5.02 "),
    (999.4, "999 "), (-4_500.0, "-4.5 k"), (None, "-"), (0.25, "0.25 "), (0.0123, "12.3 m"), (4.2e-6, "4.2 µ"),
    (3.3e-11, "0.000000000033 "), (999.6, "1000 "),
])
def test_si_gives_three_digits_and_a_prefix_before_the_unit(value, text) -> None:
    assert si(value) == text


def test_si_takes_more_digits_when_asked() -> None:
    assert si(37_938_631.5, digits=4) == "37.94 M"


@pytest.mark.parametrize("value, money, text", [
    (-0.0198693, True, "-$0.0199"), (1_234.5, True, "$1,234"), (12_645_696_011.0, True, "$12.6B"),
    (0.004, False, "0.004"), (float("nan"), False, "-"), (float("inf"), True, "-"), (None, True, "-"),
    (1.1e-06, True, "$0.0000011"), (-2.3e-07, False, "-0.00000023"),
])
def test_fmt_separates_thousands_and_never_shows_a_non_finite_number(value, money, text) -> None:
    assert fmt(value, money=money) == text


def test_format_number_keeps_four_significant_digits_with_a_prefix_never_an_exponent() -> None:
    assert format_number(6_612_345.0) == "6.612 M" and format_number(0.1315) == "0.1315"
    assert format_number(8.333e10) == "83.33 G" and format_number(1.034e-05, "USD/kWh") == "$0.00001"
    assert format_number(None) == "-"


@pytest.mark.parametrize("value, text", [(0.51, "x0.51"), (1.0, "x1"), (7.93e-05, "1/12,610"), (0.0099, "1/101")])
def test_ratio_reads_as_a_fraction_of_the_best_when_tiny(value, text) -> None:
    from bench.units import ratio

    assert ratio(value) == text

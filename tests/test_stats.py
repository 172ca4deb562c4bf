import math

import numpy as np
import pytest

from bench.stats import quantile, spread


def test_spread_of_known_values_gives_median_quartiles_and_range():
    s = spread([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.median, s.min, s.max, s.q1, s.q3, s.n) == (3.0, 1.0, 5.0, 2.0, 4.0, 5)
    assert s.iqr == 2.0
    assert s.relative_spread == pytest.approx(4.0 / 3.0)


def test_median_of_even_count_is_mean_of_middle_pair():
    assert spread([1.0, 2.0, 10.0, 20.0]).median == 6.0


@pytest.mark.parametrize("q", [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
def test_quantile_matches_numpy_linear_method(q):
    values = sorted([3.2, 7.7, 1.0, 9.9, 4.4, 4.4, 0.3])
    assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)))


def test_single_window_has_zero_spread():
    s = spread([7.0])
    assert s.min == s.max == s.median == s.q1 == s.q3 == 7.0


def test_spread_refuses_nan_and_empty_input():
    with pytest.raises(ValueError, match="NaN"):
        spread([1.0, math.nan])
    with pytest.raises(ValueError, match="no values"):
        spread([])

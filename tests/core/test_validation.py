"""The input checks: an array, an integer, a real number, each refused with what is wrong."""

import numpy as np
import pytest

from helpers.core.validation import check_int, check_real, validate_data


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (np.zeros(3), {}, "must be 2-D"),
        (np.array([["a"]]), {}, "must be numeric"),
        (np.zeros((1, 2)), {}, "needs at least 2 samples"),
        (np.zeros((4, 3)), {"n_features": 2}, "must have 2 columns"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), {}, "contains 1 NaN or infinite"),
        (np.full((3, 2), 2.0), {"value_range": (0.0, 1.0)}, "must lie in \\[0, 1\\].*scale images by 1/255"),
    ],
)
def test_the_array_check_names_what_is_wrong(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        validate_data(value, **kwargs)


def test_the_array_check_returns_the_requested_dtype():
    checked = validate_data([[1, 2], [3, 4]], dtype=np.float32)
    assert checked.dtype == np.float32 and checked.shape == (2, 2)


@pytest.mark.parametrize(("value", "kwargs", "match"), [
    (True, {}, "n must be an integer, got bool True"),
    (2.0, {}, "n must be an integer, got float 2.0"),
    (0, {}, "n must be an integer of at least 1, got 0"),
    (6, {"high": 5}, "n must be an integer from 1 to 5, got 6"),
])
def test_an_integer_is_refused_out_of_its_range_or_of_another_type(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_int(value, "n", **kwargs)


def test_an_integer_in_range_comes_back_as_an_int():
    assert check_int(np.int64(3), "n", low=0, high=3) == 3 and type(check_int(np.int64(3), "n")) is int


@pytest.mark.parametrize(("value", "kwargs", "match"), [
    (float("nan"), {}, "x must be a finite number, got nan"),
    (float("inf"), {}, "x must be a finite number"),
    ("1", {}, "x must be a finite number"),
    (0.0, {"positive": True}, "x must be a number above 0, got 0.0"),
    (-1, {"low": 0}, "x must be a number at least 0, got -1"),
    (2.0, {"low": 0, "high": 1}, "x must be a number at least 0 and at most 1"),
])
def test_a_real_number_is_refused_when_not_finite_or_out_of_range(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_real(value, "x", **kwargs)


def test_a_real_number_in_range_comes_back_as_a_float():
    assert check_real(1, "x", positive=True) == 1.0 and type(check_real(1, "x")) is float

"""The environment variables a build reads are checked when it starts."""

import pytest

from helpers.core import executor
from helpers.pipeline import settings


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("MLCMS_SCHEDULER", "bogus://x", "'bogus://x' is not a Dask scheduler's address"),
    ("MLCMS_SCHEDULER", "tcp://", "'tcp://' is not a Dask scheduler's address"),
    ("MLCMS_SCHEDULER", "127.0.0.1", "'127.0.0.1' is not a Dask scheduler's address: it is tcp://HOST:PORT"),
    ("MLCMS_SCHEDULER", "tcp://host:99999", "is not a Dask scheduler's address"),
    ("SOURCE_DATE_EPOCH", "abc", "SOURCE_DATE_EPOCH='abc' must be a number of seconds since 1970"),
    ("MLCMS_WORKERS", "two", "MLCMS_WORKERS must be a positive integer, got 'two'"),
    ("KERAS_BACKEND", "theano", "KERAS_BACKEND='theano' must be one of tensorflow, jax, torch"),
])
def test_a_wrong_variable_is_named_with_what_is_allowed(monkeypatch, variable, value, problem):
    monkeypatch.setenv(variable, value)
    assert any(problem in found for found in settings.problems())


def test_the_usual_variables_pass(monkeypatch):
    for variable in ("MLCMS_SCHEDULER", "SOURCE_DATE_EPOCH", "MLCMS_WORKERS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MLCMS_SCHEDULER", "tcp://10.0.0.5:8786")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764460800")
    assert settings.problems() == []


def test_the_executor_refuses_an_address_before_it_asks_distributed():
    with pytest.raises(ValueError, match="'bogus://x' is not a Dask scheduler's address"):
        with executor.executor("bogus://x"):
            pass

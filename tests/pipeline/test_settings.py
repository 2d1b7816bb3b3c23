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
    ("SOURCE_DATE_EPOCH", "1765141200000", "from 0 to 253402300799 (the end of year 9999; a time in milliseconds"),
    ("MLCMS_DATA_DIR", "pyproject.toml", "is a file, not a folder"),
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


def test_the_last_accepted_date_is_one_the_report_can_print(monkeypatch):
    from helpers.pipeline import pdf

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(settings.LAST_EPOCH))
    assert settings.problems() == [] and pdf.build_date() == "31 December 9999"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(settings.LAST_EPOCH + 1))
    assert len(settings.problems()) == 1


def test_a_backend_that_is_not_installed_is_named_at_the_start(monkeypatch):
    real = settings.importlib.util.find_spec
    monkeypatch.setattr(settings.importlib.util, "find_spec", lambda name: None if name == "torch" else real(name))
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert any("KERAS_BACKEND='torch', but torch is not installed in this environment" in problem
               for problem in settings.problems())
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert settings.problems() == []

"""What every smoke-run task test reads: the results its module's notebook (``TASK``) wrote."""

import pytest

from ..conftest import smoke_results


@pytest.fixture(scope="module")
def results(smoke_root, request):
    """The whole results file (results, parameters, environment) of the module's TASK."""
    return smoke_results(smoke_root, request.module.TASK)

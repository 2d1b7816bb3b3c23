"""The papermill engine of this repository, for runs by hand and in batches:

    papermill --engine mlcms notebooks/task1_pca.ipynb /tmp/t1.ipynb --cwd notebooks -p ...

It is papermill's own engine (nbclient) with the kernel options of the pipeline's runs: kernels
talk over Unix sockets instead of TCP (no ports on the machine, and none of ipykernel's warnings
that TCP is unencrypted) and end at once after the last cell. A notebook that refuses its
parameters has its message printed first, before papermill's traceback. Registered under
papermill's ``papermill.engine`` entry point in ``pyproject.toml``; papermill imports this module
when it loads its engines, and nothing else should (it would import papermill, which imports it).
"""

from __future__ import annotations

import sys

from papermill.engines import NBClientEngine

from .kernels import KERNEL_OPTIONS

#: The exception a notebook's first cells raise for parameters they refuse (helpers.notebook.parameters).
REFUSED = "ParameterError"


def refused_parameters(notebook) -> list[str]:
    """The messages of the cells that refused their parameters, in an executed notebook."""
    return [output.get("evalue", "") for cell in notebook.get("cells", []) for output in cell.get("outputs", [])
            if output.get("output_type") == "error" and output.get("ename") == REFUSED]


class MlcmsEngine(NBClientEngine):
    """papermill's nbclient engine with KERNEL_OPTIONS; a refusal of parameters is printed first."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, **{**KERNEL_OPTIONS, **kwargs})
        finally:
            for message in refused_parameters(nb_man.nb):
                print(f"\nerror: {message}", file=sys.stderr, flush=True)  # after a progress bar's line

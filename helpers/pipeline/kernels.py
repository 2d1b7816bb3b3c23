"""How papermill runs start and end their kernels (``make``'s runs and sweeps, and ``--engine mlcms``)."""

from __future__ import annotations

import os
import tempfile
import uuid

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum, default


class IpcKernelManager(AsyncKernelManager):
    """Kernels that talk over Unix sockets instead of TCP: no ports on the machine, and none of
    ipykernel's warnings that TCP is unencrypted. Each kernel's sockets get a name of their own (the
    default name is shared by all kernels started in one folder)."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("ip")
    def _socket_prefix(self) -> str:
        return os.path.join(tempfile.gettempdir(), f"mlcms-kernel-{uuid.uuid4().hex[:16]}")


#: How papermill runs start and end their kernels: on their own sockets, and ended at once when the
#: last cell is done (a graceful shutdown printed asyncio's "Task was destroyed").
KERNEL_OPTIONS = {"kernel_manager_class": IpcKernelManager, "shutdown_kernel": "immediate"}

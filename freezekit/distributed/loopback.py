"""The rendezvous of the runs freezekit spawns itself, on 127.0.0.1 only, its port held from pick to use.

The launcher binds a listening socket to 127.0.0.1 on a free port and hands it to rank 0, whose
TCPStore serves on that very socket (`master_listen_fd`): the port is never released between being
picked and being used, so nothing else can take it, and the store listens on loopback, not on every
interface as a TCPStore given only a port does. The collectives' own sockets stay on loopback too
(GLOO_SOCKET_IFNAME / NCCL_SOCKET_IFNAME set to the loopback interface in each rank).

A job joined under an external launcher (torchrun, srun: `--ddp env`) uses that launcher's store:
securing it is the launcher's business (docs/distributed.md).
"""

from __future__ import annotations

import socket
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch.distributed as dist

HOST = "127.0.0.1"
LOOPBACK_INTERFACE = "lo0" if sys.platform == "darwin" else "lo"  # the loopback interface's name
SOCKET_ENV = {"GLOO_SOCKET_IFNAME": LOOPBACK_INTERFACE, "NCCL_SOCKET_IFNAME": LOOPBACK_INTERFACE}


def listening_socket() -> socket.socket:
    """A socket listening on 127.0.0.1 on a free port; pass it to rank 0 and close the launcher's copy
    once the ranks have started."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def store(rank: int, world_size: int, port: int, listener: socket.socket | None, timeout_s: float) -> "dist.Store":
    """Rank 0 serves the store on the launcher's socket; the others connect to it on 127.0.0.1."""
    import torch.distributed as dist

    timeout = timedelta(seconds=timeout_s)
    if rank == 0:
        if listener is None:
            raise ValueError("rank 0 needs the launcher's listening socket")
        # the store serves on this descriptor and does not duplicate it: hand it over (detach), so that
        # no Python object closes it under the store
        kwargs: dict[str, Any] = {"master_listen_fd": listener.detach()}
        return dist.TCPStore(HOST, port, world_size, True, timeout, **kwargs)
    return dist.TCPStore(HOST, port, world_size, False, timeout)

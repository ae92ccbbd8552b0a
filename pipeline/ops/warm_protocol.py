"""What a stage command and the warm stage server agree on: where the socket is, and the bytes they send.

Shared by the command's client side (:mod:`pipeline.ops.warm_stages`) and the forked supervisor
(:mod:`pipeline.ops.warm_child`), so neither imports the other for it.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys

ENV_VAR = "GRAPHFUSE_WARM_STAGES"  # the server's socket, for the stage commands it serves
ENTRY_POINT = "graphfuse"  # the console script whose command a warm child runs
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # the command passes these on to its child
STARTED = b"S"  # the server has forked the child: from here on there is no falling back
CODE = struct.Struct("!i")  # a request's length, then the child's exit status (negative: killed by that signal)


def supported() -> bool:
    """Linux with fd passing and pidfds: the server needs all three."""
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds") and hasattr(os, "pidfd_open")

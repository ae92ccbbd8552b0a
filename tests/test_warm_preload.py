"""A stage command waits for its own part of the warm server's preload, no more: forked earlier, it
imports the rest itself beside the server importing the same (issue 16, row 6)."""

from __future__ import annotations

import json
import os
import socket

import pytest

from pipeline.ops.warm_preload import needed_imports
from pipeline.ops.warm_protocol import CODE

pytestmark = pytest.mark.unit

PRELOAD = [
    "prefect",
    "flows.stage_flows:warm_process_settings",
    "pipeline.stages.validate",
    "pipeline.stages.preprocess",
    "transformers.models.bert.modeling_bert",
    "pipeline.stages.build_graph",
    "mlflow",
]


def _waiting(argv: list[str]) -> tuple[socket.socket, socket.socket, int]:
    """A connection with a stage command's request on it, as the client sends it (descriptors too)."""
    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    payload = json.dumps({"argv": argv, "cwd": "/", "env": {"X": "y" * 10_000}}).encode()
    reader, writer = os.pipe()
    socket.send_fds(client, [CODE.pack(len(payload)) + payload], [reader])
    os.close(reader)
    return client, server, writer


@pytest.mark.parametrize(
    ("argv", "needed"),
    [
        (["graphfuse", "stage", "validate"], 3),
        (["graphfuse", "stage", "preprocess_tabular"], 4),
        (["graphfuse", "stage", "preprocess_text"], 5),
        (["graphfuse", "stage", "train"], len(PRELOAD)),
        (["graphfuse", "stage", "preprocess_embedding"], 0),  # its module is not in this list
        (["graphfuse", "metrics"], 0),
    ],
)
def test_a_command_waits_for_its_part_and_its_request_stays_whole(argv: list[str], needed: int) -> None:
    client, server, writer = _waiting(argv)
    try:
        assert needed_imports(server, PRELOAD) == needed
        # The peek took nothing: the supervisor still receives the whole request and its descriptor.
        data, fds, _, _ = socket.recv_fds(server, CODE.size + 20_000, 4)
        (length,) = CODE.unpack(data[: CODE.size])
        while len(data) < CODE.size + length:
            data += server.recv(CODE.size + length - len(data))
        assert json.loads(data[CODE.size :])["argv"] == argv and len(fds) == 1
        os.write(writer, b"ok")
        assert os.read(fds[0], 2) == b"ok"
        os.close(fds[0])
    finally:
        client.close(), server.close(), os.close(writer)


def test_a_request_it_cannot_read_is_forked_at_once() -> None:
    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.sendall(CODE.pack(5) + b"hello")
        assert needed_imports(server, PRELOAD) == 0
    finally:
        client.close(), server.close()

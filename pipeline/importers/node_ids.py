"""What counts as a node index in a benchmark's files: one rule for file names, cells and lists.

Python's ``int()`` is too kind for this: ``int("1_0")`` is 10, ``int("+5")`` is 5,
``int("٧")`` (Arabic-Indic seven) is 7, ``int(1.7)`` is 1 and ``int(True)`` is 1, so an image
``1_0.jpg`` or a neighbour ``1.7`` would silently land on a node it never named. Only plain ASCII
digits (no sign, no leading zero, no separator), Python ints and whole finite floats are indices.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_PLAIN = re.compile(r"0|[1-9][0-9]*")
PLAIN_RULE = "a plain node index (ASCII digits 0-9, no sign, separator or leading zero)"


@dataclass(frozen=True)
class NotANode:
    """Why a name maps to no node: counted with this reason in the import report."""

    reason: str


def is_plain_index(text: str) -> bool:
    return _PLAIN.fullmatch(text) is not None


def index_or_reason(value: object, num_nodes: int) -> int | str:
    """The node index ``value`` names, or a short reason why it names none (for the message)."""
    if isinstance(value, bool):
        return f"{value!r} is a boolean, not {PLAIN_RULE}"
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return f"{value!r} is not a whole number"
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not is_plain_index(text):
            return f"{text[:40]!r} is not {PLAIN_RULE}"
        value = int(text)
    if not isinstance(value, int):
        return f"{value!r} is not {PLAIN_RULE}"
    if not 0 <= value < num_nodes:
        return f"{value if value.bit_length() < 64 else str(value)[:20] + '...'} is outside 0..{num_nodes - 1}"
    return value

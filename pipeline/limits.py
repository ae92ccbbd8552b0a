"""The one set of input limits, checked at every door before the expensive work.

Doors: ``graphfuse validate`` and the dataset stages (a csv line, an image), ``graphfuse predict
--dataset`` (the same loader), ``graphfuse predict --nodes`` and the pyfunc that ``mlflow models
serve`` answers with (a request's rows, cells and bytes). A limit is a refusal that names the
file (or ``request``), row and column, never a silent cut, except one: text far longer than its
encoder reads is cut before tokenising, and the notes say so.

Why these numbers: a node's text is read as 256 tokens; a catalogue photo is 12-50 Mpx. The
limits are far above honest data and far below what hurts: a 50 MB text cell tokenised whole
took 8 GB of memory; one such cell in a served request grew the server from 1.5 to 4 GB.
"""

from __future__ import annotations

MIB = 1024 * 1024

#: No cell, and no line of a csv file, may be larger (bytes of UTF-8): a gigabyte cell (a corrupt or
#: hostile file) fails in milliseconds instead of filling memory.
MAX_CELL_BYTES = 8 * MIB
#: New nodes in one ``predict --nodes`` file or one request to the served model.
MAX_REQUEST_ROWS = 100_000
#: All cells of one ``predict --nodes`` file or request together.
MAX_REQUEST_BYTES = 256 * MIB
#: Pixels of one image (width x height, read from its header before decoding): 64 Mpx is above any
#: camera photo; a decompression bomb is refused before it is decoded.
MAX_IMAGE_PIXELS = 64 * MIB
#: A text is cut to (tokens its encoder reads) x this many characters before tokenising: a token
#: of real text is rarely over 16 characters, so the cut changes no embedding; it keeps a tokenizer
#: from building millions of tokens it would throw away (MiniLM reads 256 tokens: 8192 characters).
CHARS_PER_TOKEN = 32


def mib(value: int) -> str:
    """``8 MiB`` for messages."""
    return f"{value / MIB:g} MiB"

"""Property-based fuzzing of the dataset loader and ``graphfuse validate`` (hypothesis).

Each case is a dataset folder built from a sound one by one to three mutations: malformed or
mistyped yaml, missing/extra/duplicate columns, duplicate ids, unicode oddities, BOMs, mixed
line endings, empty files, huge cells, random bytes. Every case must end in a valid load or in
GraphFuse's own error type (:class:`GraphFuseError`), never another exception, and the CLI must
exit 0 or 1 without a traceback. The tally (mutation x outcome) is printed; run with ``-s`` to see it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.dataset import load_dataset, with_splits
from pipeline.errors import GraphFuseError

pytestmark = pytest.mark.unit

#: Dataset cases: 100 try every mutation (each 3+ times) and both outcomes, as the tally checks,
#: in ~8 CPU-s (200 cost ~17 s and tried no mutation more); GRAPHFUSE_FUZZ_EXAMPLES=2000 for a
#: longer hunt.
MAX_EXAMPLES = int(os.environ.get("GRAPHFUSE_FUZZ_EXAMPLES", "100"))
#: The id parsers' properties cost a millisecond a case: twice as many.
ID_EXAMPLES = 2 * MAX_EXAMPLES
TALLY: Counter[tuple[str, str]] = Counter()

HEADER = ["node_id", "label", "text", "num", "cat"]
SPEC = {
    "name": "fuzz",
    "task": "node_classification",
    "id_column": "node_id",
    "label_column": "label",
    "text_columns": ["text"],
    "image_column": None,
    "numeric_columns": ["num"],
    "categorical_columns": ["cat"],
    "edges": {"file": "edges.csv", "source": "src", "target": "dst", "directed": False},
}
ODD = ["\u200b", "\u202e", "\ufeff", "e\u0301", "\u00e9", "\U0001f600", "\x00", "\x1b[31m", "\u2028", "NA", "null"]
NUMBERS = ["1", "-0", " 3.5 ", "1e999", "nan", "inf", "", "0x10", "1,5", "٣"]

cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(ODD + NUMBERS),
    st.lists(st.sampled_from(ODD + list('ab,"\n\r')), max_size=6).map("".join),
)
MUTATIONS = (
    "sound",
    "yaml_malformed",
    "yaml_wrong_types",
    "column_missing",
    "column_extra",
    "column_duplicate",
    "duplicate_ids",
    "unicode_cells",
    "bom",
    "mixed_line_endings",
    "empty_file",
    "huge_cell",
    "random_bytes",
    "unquoted_rows",
    "zero_rows",
    "odd_labels",
)


def _csv_text(rows: list[list[str]], quoted: bool) -> str:
    if not quoted:
        return "\n".join(",".join(r) for r in rows) + "\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


@st.composite
def dataset_case(draw: st.DrawFn) -> tuple[list[str], dict[str, bytes]]:
    mutations = draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3, unique=True))
    n = 0 if "zero_rows" in mutations else draw(st.integers(min_value=9, max_value=15))
    labels = ["abc"[i % 3] for i in range(n)]  # every class has 3+ nodes: a sound split
    if "odd_labels" in mutations and n:  # a class of one node, or unlabelled nodes
        for i in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3)):
            labels[i] = draw(st.sampled_from(["", "d", " ", "A"]))
    rows = [[f"n{i}", labels[i], f"text {i}", str(i), "x" if i % 2 else "y"] for i in range(n)]
    edges = [["src", "dst"]] + [[f"n{i}", f"n{(i + 1) % max(n, 1)}"] for i in range(n)]
    spec: object = dict(SPEC)
    header = list(HEADER)
    files: dict[str, bytes] = {}
    quoted = "unquoted_rows" not in mutations
    for m in mutations:
        if m == "yaml_wrong_types":
            key = draw(st.sampled_from([*SPEC, "edges.directed", "edges.file"]))
            value = draw(st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.none(), st.text(max_size=5)))
            if key.startswith("edges."):
                spec["edges"] = {**SPEC["edges"], key.split(".")[1]: value}  # type: ignore[index]
            else:
                spec[key] = value  # type: ignore[index]
        elif m == "column_missing" and rows:
            drop = draw(st.integers(0, len(header) - 1))
            header.pop(drop)
            rows = [r[:drop] + r[drop + 1 :] for r in rows]
        elif m == "column_extra":
            header.append(draw(st.sampled_from(["extra", "", "node_id2"])))
            rows = [r + [draw(cells)] for r in rows]
        elif m == "column_duplicate":
            header[-1] = header[0]
        elif m == "duplicate_ids" and len(rows) > 1:
            rows[-1][0] = rows[0][0]
        elif m == "unicode_cells":
            for r in rows:
                col = draw(st.integers(0, len(r) - 1))
                r[col] = draw(cells)
        elif m == "huge_cell" and rows:
            rows[0][2] = "w" * draw(st.sampled_from([100_000, 1_000_000]))
    nodes_text = _csv_text([header] + rows, quoted)
    edges_text = _csv_text(edges, quoted)
    spec_text = yaml.safe_dump(spec, allow_unicode=True)
    if "yaml_malformed" in mutations:
        spec_text = draw(
            st.sampled_from(
                [spec_text[: len(spec_text) // 2] + ": [", "- a\n- b\n", "{", "!!python/object:os.system {}"]
            )
        )
    if "mixed_line_endings" in mutations:
        parts = nodes_text.split("\n")
        nodes_text = "".join(p + draw(st.sampled_from(["\n", "\r\n", "\r"])) for p in parts[:-1])
    files["dataset.yaml"] = spec_text.encode("utf-8")
    files["nodes.csv"] = nodes_text.encode("utf-8", "surrogatepass")
    files["edges.csv"] = edges_text.encode("utf-8")
    if "bom" in mutations:
        target = draw(st.sampled_from(sorted(files)))
        files[target] = b"\xef\xbb\xbf" + files[target]
    if "empty_file" in mutations:
        files[draw(st.sampled_from(sorted(files)))] = b""
    if "random_bytes" in mutations:
        files[draw(st.sampled_from(sorted(files)))] = draw(st.binary(max_size=200))
    return mutations, files


def _load(folder: Path) -> str:
    try:
        dataset = load_dataset(folder)
        with_splits(dataset, seed=0, val_fraction=0.2, test_fraction=0.2)  # what the validate stage does next
    except GraphFuseError:
        return "GraphFuseError"
    return "loaded"


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is reproducible
    database=None,  # and nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=dataset_case())
def test_every_bad_dataset_ends_in_a_load_or_our_own_error(case: tuple[list[str], dict[str, bytes]]) -> None:
    mutations, files = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        outcome = _load(folder)  # any other exception fails the test with its traceback
        result = CliRunner().invoke(app, ["validate", str(folder)])
        assert result.exit_code in (0, 1), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert (result.exit_code == 0) == (outcome == "loaded"), "validate and the pipeline disagree"
    for m in mutations:
        TALLY[(m, outcome)] += 1
    TALLY[("all cases", outcome)] += 1


#: Tokens a benchmark's neighbour cell or image name might hold: plain ids and int()'s traps.
ID_TRAPS = ["0", "7", "35", "36", "007", "1_0", "+5", "-1", "\u0667", "\uff17", "1.7", "1e999", "True", "nan", "9" * 23]


@settings(max_examples=ID_EXAMPLES, deadline=None, derandomize=True, database=None)
@given(
    tokens=st.lists(st.one_of(st.sampled_from(ID_TRAPS), st.text(max_size=4)), max_size=5),
    separator=st.sampled_from([", ", ";", " ", ","]),
    brackets=st.booleans(),
)
def test_a_neighbour_cell_gives_plain_ids_or_our_own_error(tokens: list[str], separator: str, brackets: bool) -> None:
    """MAGB neighbour cells: every id returned is written plainly in the cell and inside the graph,
    anything else is a DatasetError naming the file, row and column, never int()'s silent reading."""
    from pipeline.errors import DatasetError
    from pipeline.importers.magb import _neighbours

    cell = separator.join(tokens)
    cell = f"[{cell}]" if brackets else cell
    try:
        ids = _neighbours(cell, Path("Toys.csv"), 5, "neighbour", 36)
    except DatasetError as exc:
        assert (exc.file, exc.row, exc.column) == ("Toys.csv", 5, "neighbour")
        return
    written = {t.strip("'\"") for t in re.split(r"[,;\s]+", cell.strip("[]()"))}
    assert all(0 <= i < 36 and str(i) in written for i in ids)


@settings(max_examples=ID_EXAMPLES, deadline=None, derandomize=True, database=None)
@given(value=st.one_of(st.sampled_from(ID_TRAPS), st.text(max_size=6), st.integers(), st.floats(), st.booleans()))
def test_a_node_index_is_only_what_it_plainly_says(value: object) -> None:
    from pipeline.importers.node_ids import index_or_reason

    index = index_or_reason(value, 36)
    if isinstance(index, str):
        return
    assert not isinstance(value, bool) and 0 <= index < 36
    assert value == index if not isinstance(value, str) else value.strip() == str(index)


def test_zz_the_fuzz_tally_tried_every_mutation_and_both_outcomes() -> None:
    """After the fuzz test (same module, file order), or alone (``-k tally``): the fuzz is run here
    then. Print what was tried, and check the cases were what the fuzz claims to try."""
    if not TALLY:
        test_every_bad_dataset_ends_in_a_load_or_our_own_error()
    total = sum(v for (kind, _), v in TALLY.items() if kind == "all cases")
    print(f"\nfuzz: {total} cases")
    for kind in (*MUTATIONS, "all cases"):
        loaded, refused = TALLY[(kind, "loaded")], TALLY[(kind, "GraphFuseError")]
        print(f"  {kind:<20} loaded {loaded:>4}  GraphFuseError {refused:>4}")
    assert total >= min(MAX_EXAMPLES, 100)
    untried = [kind for kind in MUTATIONS if not TALLY[(kind, "loaded")] + TALLY[(kind, "GraphFuseError")]]
    assert not untried, f"mutations never tried: {untried} (60 or 80 cases miss one; 100 try all)"
    assert TALLY[("all cases", "loaded")] and TALLY[("all cases", "GraphFuseError")], "one outcome only"
    assert TALLY[("yaml_malformed", "loaded")] == 0, "a malformed dataset.yaml was loaded"

"""Shared fixtures: the real countries data, and small slices of it for fast stage tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import forget_tracking_env

REPO_ROOT = Path(__file__).resolve().parents[1]
COUNTRIES = REPO_ROOT / "data" / "raw" / "countries"

os.environ.setdefault("CI", "1")  # quiet progress bars in tests
# A lone stage leaves a stage host (a Prefect server and a warm process, ~1 GB) for the next stage
# of its project; dozens of test projects would each keep one for a minute. Off for the suite:
# tests/test_stage_host.py turns it on where it is the subject.
os.environ.setdefault("GRAPHFUSE_STAGE_HOST_IDLE_S", "0")

# Issue 7: the shared trained-and-registered project for evaluation, registry and serving tests.
pytest_plugins = ["tests.evaluation_fixtures"]
# Suite time: one `graphfuse repro` project shared by the end-to-end modules (tests/shared_projects.py).
pytest_plugins.append("tests.shared_projects")


def write_countries_subset(dest: Path, per_class: int = 8, seed: int = 0) -> Path:
    """Copy ``per_class`` countries of each region, their flags and the borders among them.

    Slices are chosen to keep many borders (neighbours first), so the graph is not empty.
    """
    nodes = pd.read_csv(COUNTRIES / "nodes.csv", dtype=str, keep_default_na=False)
    edges = pd.read_csv(COUNTRIES / "edges.csv", dtype=str, keep_default_na=False)
    degree = pd.concat([edges["src"], edges["dst"]]).value_counts()
    nodes["_deg"] = nodes["node_id"].map(degree).fillna(0)
    picked = (
        nodes.sort_values(["_deg", "node_id"], ascending=[False, True])
        .groupby("label", sort=True)
        .head(per_class)
        .drop(columns="_deg")
        .sort_values("node_id")
    )
    keep = set(picked["node_id"])
    sub_edges = edges[edges["src"].isin(keep) & edges["dst"].isin(keep)]
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "images").mkdir(exist_ok=True)
    shutil.copy(COUNTRIES / "dataset.yaml", dest / "dataset.yaml")
    picked.to_csv(dest / "nodes.csv", index=False)
    sub_edges.to_csv(dest / "edges.csv", index=False)
    for image in picked["image"]:
        if image:
            shutil.copy(COUNTRIES / "images" / image, dest / "images" / image)
    return dest


@pytest.fixture(scope="session")
def countries_dir() -> Path:
    return COUNTRIES


@pytest.fixture(scope="session")
def small_countries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 countries (8 per region) in format v1; read-only for tests, copy before editing."""
    return write_countries_subset(tmp_path_factory.mktemp("countries_small") / "countries")


@pytest.fixture
def editable_countries(tmp_path: Path, small_countries: Path) -> Path:
    """A private copy of the small slice that a test may break on purpose."""
    return Path(shutil.copytree(small_countries, tmp_path / "countries"))


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory):
    """One real, temporary Prefect API for the whole session, started as graphfuse starts a lone
    command's (pipeline/ops/prefect_server.py: no UI, no scheduler, as prefect_test_harness's), in a
    home of its own whatever PREFECT_HOME or PREFECT_API_URL say. Its database is a copy of the
    migrated template, so it answers in ~6 s; the harness migrated a new one each time (~16 s on a worker)."""
    import prefect.context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from pipeline.ops import prefect_server

    with prefect_server.prefect_api(fresh_home=tmp_path_factory.mktemp("prefect-api")) as api_url:
        with temporary_settings({PREFECT_API_URL: api_url}):
            # as the harness: contexts copied before this one (threads, event loops) see the server too
            with prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()):
                yield
                # prefect_api drains too, but only once these settings are gone: the queued logs and
                # events go now, while Prefect's workers are still told where the server is
                prefect_server.drain_prefect_workers()


@pytest.fixture
def clean_tracking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests use their own SQLite MLflow store, never a server a developer has configured."""
    forget_tracking_env(monkeypatch)


# Issue 18: test tiers. `make test-fast` runs `-m unit`; a tier that is not declared drifts.
TIERS = ("unit", "integration", "e2e")
# Fixtures that start a server or run the pipeline: a unit test that asks for one is not a unit test.
SERVER_FIXTURES = frozenset({"prefect_api", "evaluated_project", "reproduced_project"})


def tier_problem(item: pytest.Item) -> str | None:
    """Why ``item``'s tier markers are wrong, or None: exactly one tier, and unit means no server."""
    tiers = [mark.name for mark in item.iter_markers() if mark.name in TIERS]
    if len(tiers) != 1:
        return f"has {len(tiers)} tiers {tiers or ''}".rstrip() + f"; give it exactly one of {', '.join(TIERS)}"
    servers = sorted(SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))
    if tiers == ["unit"] and servers:
        return f"is marked unit but uses {', '.join(servers)}, which start a server; mark it integration"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to collect a test without exactly one tier; every e2e test is also `slow`."""
    problems = [f"{item.nodeid} {why}" for item in items if (why := tier_problem(item))]
    if problems:
        listed = "\n  ".join(problems)
        raise pytest.UsageError(
            f"{len(problems)} test(s) without exactly one tier (pytestmark = pytest.mark.unit / integration / "
            f"e2e at the top of the file, or a mark on the test):\n  {listed}"
        )
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.slow)
    schedule_heavy_modules_first(items)


def _module_rank(items: list[pytest.Item]) -> dict[str, int]:
    """Each module's place: end-to-end modules first, then integration, then unit."""
    rank: dict[str, int] = {}
    for item in items:
        tier = next((t for t in ("e2e", "integration", "unit") if item.get_closest_marker(t)), "unit")
        module = item.nodeid.split("::", 1)[0]
        rank[module] = min(rank.get(module, 2), ("e2e", "integration", "unit").index(tier))
    return rank


def schedule_heavy_modules_first(items: list[pytest.Item]) -> None:
    """`make test` runs on three workers (pytest-xdist, ``--dist loadfile --no-loadscope-reorder``):
    each module goes whole to one worker, so its module-scoped fixtures are built once, and modules
    are handed out in this order, the long end-to-end ones first and the many short unit ones last
    to even out the finish."""
    rank = _module_rank(items)
    waits = _waits_for_the_shared_project(items, rank)
    # stable: a module keeps its order
    items.sort(key=lambda item: (rank[_module(item)], waits.get(_module(item), 0)))


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _waits_for_the_shared_project(items: list[pytest.Item], rank: dict[str, int]) -> dict[str, int]:
    """Among the end-to-end modules, the first that uses the shared reproduced project builds it
    (~100 s) while the next workers would only wait on its lock: hand them the end-to-end modules
    that do not use it first, then the rest. Returns 1 for the modules that should wait."""
    users = sorted(
        {_module(item) for item in items if rank[_module(item)] == 0 and "reproduced_project" in item.fixturenames}
    )
    return {module: 1 for module in users[1:]}

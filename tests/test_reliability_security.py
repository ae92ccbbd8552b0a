"""Security: nothing unpickled, weights via safetensors or torch.load(weights_only=True), YAML
only through safe loaders, credentials masked wherever a URI is shown, loopback-only servers,
and a served model that reads no path outside its data root."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pipeline.redact import redact_text, redact_uri
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.unit

CODE = [
    p
    for folder in ("pipeline", "flows", "benchmarks", "tests")
    for p in sorted((REPO_ROOT / folder).rglob("*.py"))
    if p.name != Path(__file__).name and "__pycache__" not in p.parts
]
PICKLE = re.compile(
    r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle|joblib|shelve)\b|read_pickle\(|allow_pickle\s*=\s*True", re.M
)


def _calls(tree: ast.AST, owner: str, names: set[str]) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == owner
    ]


def test_the_code_base_never_unpickles_or_loads_yaml_unsafely() -> None:
    assert len(CODE) > 40
    problems = []
    for path in CODE:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(REPO_ROOT)
        if PICKLE.search(text):
            problems.append(f"{where}: pickle-family import or load")
        tree = ast.parse(text)
        for call in _calls(tree, "yaml", {"load", "load_all", "unsafe_load", "full_load", "full_load_all"}):
            problems.append(f"{where}:{call.lineno}: yaml.{call.func.attr} (use yaml.safe_load)")
        for call in _calls(tree, "torch", {"load"}):
            safe = any(k.arg == "weights_only" and getattr(k.value, "value", None) is True for k in call.keywords)
            if not safe:
                problems.append(f"{where}:{call.lineno}: torch.load without weights_only=True")
        if re.search(r"YAML\(\s*typ\s*=\s*['\"](unsafe|base)", text):
            problems.append(f"{where}: ruamel YAML with an unsafe loader")
    assert problems == []


def test_servers_bind_to_loopback_unless_told_otherwise() -> None:
    wildcard = [str(p.relative_to(REPO_ROOT)) for p in CODE if "0.0.0.0" in p.read_text(encoding="utf-8")]
    assert wildcard == [], "a server binding all interfaces must be the user's explicit choice"


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql://bob:s3cr3t@db:5432/mlflow", "postgresql://bob:***@db:5432/mlflow"),
        ("postgresql+psycopg://bob:s3cr3t@db/mlflow", "postgresql+psycopg://bob:***@db/mlflow"),
        ("https://token123@mlflow.example.com", "https://***@mlflow.example.com"),
        ("s3://bucket/models?X-Amz-Signature=abc&region=eu", "s3://bucket/models?X-Amz-Signature=***&region=eu"),
        ("https://h/api?token=t0k&x=1", "https://h/api?token=***&x=1"),
        ("sqlite:////home/me/project/mlflow.db", "sqlite:////home/me/project/mlflow.db"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ],
)
def test_credentials_in_uris_are_masked(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown
    assert "s3cr3t" not in redact_text(f"could not reach {uri}: refused")


def test_a_tracking_error_never_shows_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from pipeline.tracking.health import TrackingUnavailable, ensure_tracking_reachable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for uri in (f"http://bob:s3cr3t@127.0.0.1:{port}", f"postgresql://bob:s3cr3t@127.0.0.1:{port}/mlflow"):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("GRAPHFUSE_TRACKING_PROBE_TIMEOUT", "2")
        try:
            ensure_tracking_reachable(".")
        except TrackingUnavailable as exc:
            assert "s3cr3t" not in str(exc) and "bob:***@" in str(exc)
        else:
            pytest.fail(f"{redact_uri(uri)} should be unreachable")

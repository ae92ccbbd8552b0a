"""The documentation: the site builds strictly (no broken link or anchor, offline), its generated
reference covers what the code holds, and the README stays a short first page whose links resolve."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def test_the_site_builds_strictly_offline_with_the_generated_reference(tmp_path):
    """`mkdocs build --strict` fails on a nav entry without its page, a link to a missing page or a
    missing anchor; the generated pages come out with what the code defines."""
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(site)]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    params = (site / "reference" / "params" / "index.html").read_text(encoding="utf-8")
    assert "build_graph.knn.k" in params and "orchestration.warm_stages" in params
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "graphfuse predict" in cli and "--images-root" in cli and "graphfuse registry promote" in cli
    dataset = (site / "reference" / "dataset-format" / "index.html").read_text(encoding="utf-8")
    assert "edges.source" in dataset and "reference:dataset-yaml" not in dataset
    quickstart = (site / "quickstart" / "index.html").read_text(encoding="utf-8")
    assert "ROC-AUC (OvR)" in quickstart  # the committed run's metrics table
    pages = [p.read_text(encoding="utf-8") for p in site.rglob("*.html")]
    assert not any("fonts.googleapis.com" in page for page in pages)  # no web font fetched by a reader
    assert not any("<!-- reference:" in page or "<!-- results:" in page for page in pages)  # every block filled


def test_the_params_reference_has_a_row_for_every_key_of_params_yaml():
    spec = importlib.util.spec_from_file_location("docs_reference_hook", REPO / "docs" / "hooks" / "reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = hook.params_page()

    def keys(tree: dict, prefix: str = "") -> list[str]:
        out = []
        for key, value in tree.items():
            out += keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
        return out

    project = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    missing = [key for key in keys(project) if f"| `{key}` |" not in page]
    assert not missing, missing


def test_readme_is_a_short_first_page_with_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    setup = [line.split("#")[0].strip() for line in blocks[0].splitlines()]
    assert setup == ["make run", "make test"]
    assert "source .venv/bin/activate" in text


def test_readme_links_point_at_files_that_exist():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    assert local, "the README links to the docs"
    missing = [t for t in local if t and not (REPO / t).exists()]
    assert not missing, missing

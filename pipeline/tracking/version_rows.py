"""The rows of ``graphfuse registry list``: one shape, whether MLflow or the project's own SQLite
registry (:mod:`pipeline.tracking.local_registry`) answered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Registered versions carry their validation figures as tags with this prefix (``val_macro_f1``).
METRIC_TAG_PREFIX = "val_"


def version_rows(versions: Iterable[tuple[str, Mapping[str, str]]], aliases: Mapping[str, str]) -> list[dict[str, str]]:
    """Every version (its number and tags), newest first, with its aliases (``aliases``: alias ->
    version) and the tags that matter for comparing."""
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    rows = []
    for version, tags in sorted(versions, key=lambda v: -int(v[0])):
        metric_tags = {k: v for k, v in tags.items() if k.startswith(METRIC_TAG_PREFIX)}
        rows.append(
            {
                "version": str(version),
                "aliases": ",".join(sorted(by_version.get(str(version), []))),
                "dataset": tags.get("dataset", ""),
                "split": tags.get("split_fingerprint", ""),
                "metrics": " ".join(f"{k}={v}" for k, v in sorted(metric_tags.items())),
                "git_commit": tags.get("git_commit", "")[:10],
            }
        )
    return rows

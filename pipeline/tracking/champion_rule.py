"""When the champion alias moves: a clear win on the same data, never noise.

A new version must beat the champion on the same dataset and split by at least ``min_delta`` on
the chosen validation metric and, with ``test: mcnemar``, be right on significantly more of the
same validation nodes: McNemar's exact test, one-sided, on the nodes where exactly one of the two
models is right (``b`` the new one, ``c`` the champion): ``p = P(X >= b)`` for ``X ~ Bin(b + c,
1/2)``, promoted when ``p < level``. On a 49-node validation split a macro-F1 gain of 0.05 is a
node or two and does not pass. Each version keeps its per-node correctness on the validation
split as a tag, so the next version is compared with the champion's own predictions.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field

import numpy as np
from mlflow.entities.model_registry import ModelVersion

#: Model-version tag holding ``N:<base64 of zlib of packed bits>``, the val nodes each version got right.
VAL_CORRECT_TAG = "graphfuse.val_correct"
_MAX_TAG_CHARS = 90_000  # MLflow allows 100 000 characters in a model-version tag
SAME_DATA_TAGS = ("dataset", "split_fingerprint")


@dataclass(frozen=True)
class ChampionRule:
    """The rule's settings (params.yaml ``registry``)."""

    min_delta: float = 0.0
    test: str = "none"  # "mcnemar" or "none"
    level: float = 0.05
    auto_promote: bool = True


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    previous_value: float | None = None
    test: dict = field(default_factory=dict)


def encode_correct(correct: np.ndarray) -> str | None:
    """The val nodes a model got right, compact enough for a tag (None when too many to fit)."""
    bits = np.asarray(correct, dtype=bool)
    payload = base64.b64encode(zlib.compress(np.packbits(bits).tobytes(), 9)).decode("ascii")
    text = f"{bits.size}:{payload}"
    return text if len(text) <= _MAX_TAG_CHARS else None


def decode_correct(text: str) -> np.ndarray:
    count, payload = text.split(":", 1)
    packed = np.frombuffer(zlib.decompress(base64.b64decode(payload)), dtype=np.uint8)
    return np.unpackbits(packed)[: int(count)].astype(bool)


def mcnemar_exact(new: np.ndarray, champion: np.ndarray) -> dict:
    """One-sided exact McNemar test that ``new`` is right on more of the same nodes than ``champion``."""
    from scipy.stats import binomtest

    b = int((new & ~champion).sum())
    c = int((~new & champion).sum())
    p_value = float(binomtest(b, b + c, 0.5, alternative="greater").pvalue) if b + c else 1.0
    return {
        "name": "mcnemar_exact_one_sided",
        "n": int(new.size),
        "new_right_champion_wrong": b,
        "champion_right_new_wrong": c,
        "p_value": round(p_value, 6),
    }


def _not_comparable(champion: ModelVersion, tags: dict[str, str], metric_tag: str) -> str | None:
    v = champion.version
    for key in SAME_DATA_TAGS:
        theirs, ours = champion.tags.get(key), tags.get(key)
        if theirs != ours:
            return f"champion v{v} was evaluated on {key} {theirs!r}, this model on {ours!r}: not compared"
    if metric_tag not in champion.tags:
        chosen = champion.tags.get("champion_metric", "another metric")
        return f"champion v{v} has no {metric_tag} (it was chosen on {chosen}): metric changed, not compared"
    return None


def _paired_test(champion: ModelVersion, rule: ChampionRule, val_correct: np.ndarray | None) -> Decision | None:
    """The McNemar verdict (promote = significant), or None when there is nothing to test with."""
    recorded = champion.tags.get(VAL_CORRECT_TAG)
    if rule.test != "mcnemar" or val_correct is None or not recorded:
        return None
    theirs = decode_correct(recorded)
    if theirs.size != val_correct.size:
        return Decision(False, f"champion v{champion.version} has {theirs.size} val predictions, this model "
                        f"{val_correct.size}: not compared")  # fmt: skip
    test = mcnemar_exact(np.asarray(val_correct, dtype=bool), theirs) | {"level": rule.level}
    counts = f"{test['new_right_champion_wrong']} vs {test['champion_right_new_wrong']} discordant of {test['n']}"
    verdict = "<" if test["p_value"] < rule.level else ">="
    text = f"McNemar p={test['p_value']:.4g} {verdict} {rule.level} ({counts} val nodes)"
    return Decision(test["p_value"] < rule.level, text, test=test)


def decide(
    champion: ModelVersion | None,
    tags: dict[str, str],
    metric_tag: str,
    value: float,
    rule: ChampionRule,
    val_correct: np.ndarray | None = None,
) -> Decision:
    """Apply the rule; ``auto_promote: false`` turns a win into a challenger that says it would have won."""
    decision = _judge(champion, tags, metric_tag, value, rule, val_correct)
    if decision.promote and not rule.auto_promote:
        return Decision(
            False,
            f"{decision.reason}; not promoted: registry.auto_promote is false (a one-off run with overrides); "
            "`graphfuse registry promote VERSION` accepts it",
            decision.previous_value,
            decision.test,
        )
    return decision


def _judge(
    champion: ModelVersion | None,
    tags: dict[str, str],
    metric_tag: str,
    value: float,
    rule: ChampionRule,
    val_correct: np.ndarray | None,
) -> Decision:
    if champion is None:
        return Decision(True, "no champion yet")
    if (why := _not_comparable(champion, tags, metric_tag)) is not None:
        return Decision(False, why)
    v, previous = champion.version, float(champion.tags[metric_tag])
    gain = value - previous
    if not (gain > 0 and gain >= rule.min_delta):
        text = f"{metric_tag} {value:.4f} vs champion v{v}'s {previous:.4f}: gain {gain:+.4f} < {rule.min_delta}"
        return Decision(False, text, previous)
    won = f"{metric_tag} {value:.4f} beats champion v{v}'s {previous:.4f} by {gain:+.4f}"
    if rule.test == "none":
        return Decision(True, won, previous)
    paired = _paired_test(champion, rule, val_correct)
    if paired is None:
        return Decision(True, f"{won} (no paired test: no val predictions recorded for both)", previous)
    if not paired.test:
        return Decision(False, paired.reason, previous)
    if paired.promote:
        return Decision(True, f"{won}, significant: {paired.reason}", previous, paired.test)
    return Decision(False, f"{won}, but within noise: {paired.reason}", previous, paired.test)

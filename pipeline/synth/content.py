"""Node content whose class signal is set per modality: sentences, small PNGs, numbers.

Each generator takes the *cue* class of every node (see :func:`pipeline.synth.graph.draw_cues`)
and renders it; the label never reaches a generator, so a modality with signal 0 cannot leak it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pipeline.synth.words import ADJECTIVES, FILLER, SUBJECTS, TOPICS, VERBS

COLOURS = ((220, 40, 40), (40, 160, 60), (40, 80, 220), (230, 200, 30), (190, 50, 190), (30, 190, 200))
SHAPES = ("circle", "square", "triangle", "cross", "ring")


def sentence(rng: np.random.Generator, cue: int) -> str:
    """Two templated sentences; three content words come from the cue class's topic."""
    topic = TOPICS[cue]
    a, b, c = (topic[i] for i in rng.choice(len(topic), size=3, replace=False))
    subject = SUBJECTS[rng.integers(len(SUBJECTS))]
    verb = VERBS[rng.integers(len(VERBS))]
    adj1, adj2 = (ADJECTIVES[i] for i in rng.choice(len(ADJECTIVES), size=2, replace=False))
    filler = FILLER[rng.integers(len(FILLER))]
    first = f"{subject.capitalize()} {verb} the {adj1} {a} and the {b}."
    second = f"It is about a {adj2} {c} and the {filler} around it."
    return f"{first} {second}"


def draw_image(rng: np.random.Generator, cue: int, size: int) -> Image.Image:
    """A shape on a grey background: colour and shape come from the cue class, with jitter.

    Class k has colour ``k % 6`` and shape ``(2 * (k // 6) + k) % 5``: 30 distinct pairs.
    """
    grey = int(rng.integers(150, 250))
    image = Image.new("RGB", (size, size), (grey, grey, grey))
    draw = ImageDraw.Draw(image)
    colour = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in COLOURS[cue % len(COLOURS)])
    shape = SHAPES[(2 * (cue // len(COLOURS)) + cue) % len(SHAPES)]
    r = size * rng.uniform(0.25, 0.4)
    cx, cy = (size / 2 + rng.uniform(-0.12, 0.12, size=2) * size).tolist()
    box = (cx - r, cy - r, cx + r, cy + r)
    width = max(2, size // 8)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif shape == "cross":
        draw.rectangle((cx - r, cy - width, cx + r, cy + width), fill=colour)
        draw.rectangle((cx - width, cy - r, cx + width, cy + r), fill=colour)
    else:
        draw.ellipse(box, outline=colour, width=width)
    return image


def write_images(rng: np.random.Generator, cues: np.ndarray, names: list[str | None], folder: Path, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for cue, name in zip(cues.tolist(), names, strict=True):
        if name is not None:
            draw_image(rng, cue, size).save(folder / name, format="PNG", optimize=True)


def class_centroids(rng: np.random.Generator, classes: int, dim: int, spread: float) -> np.ndarray:
    """Fixed class centres [classes, dim] for numeric features and embeddings."""
    return rng.normal(0.0, spread, size=(classes, dim))


def numeric_rows(rng: np.random.Generator, cues: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """centre of the cue class plus unit Gaussian noise, [n, dim]."""
    return centroids[cues] + rng.normal(size=(cues.size, centroids.shape[1]))

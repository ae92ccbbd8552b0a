"""A raw node table, edges and an images folder as a newcomer has them: no dataset.yaml, a missing
value spelt ``N/A``, column names of their own. Small (24 nodes, 8x8 images) so a whole pipeline run
on it costs seconds of compute."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PIL import Image

SHAPES = {"circle": (220, 40, 40), "square": (40, 200, 40), "triangle": (40, 40, 220)}
WORDS = {
    "circle": "a round shape with no corners at all",
    "square": "four equal sides and four right angles",
    "triangle": "three sides and three pointed corners",
}
PER_CLASS = 8


def write_raw_shapes(folder: Path) -> tuple[Path, Path, Path]:
    """(nodes.csv, edges.csv, images folder) under ``folder``; ``size`` has one ``N/A`` cell."""
    images = folder / "pictures"
    images.mkdir(parents=True)
    rows, edges = [], []
    for k, (shape, colour) in enumerate(SHAPES.items()):
        ids = [f"s{k}{i}" for i in range(PER_CLASS)]
        for i, node in enumerate(ids):
            Image.new("RGB", (8, 8), tuple(max(0, c - 9 * i) for c in colour)).save(images / f"{node}.png")
            size = "N/A" if (k, i) == (0, 3) else str(10 * (k + 1) + i)
            tone = ["light", "dark"][i % 2]
            rows.append(
                {
                    "shape_id": node,
                    "label": shape,
                    "description": f"{WORDS[shape]} number {i}",
                    "picture": f"{node}.png",
                    "size": size,
                    "tone": tone,
                }
            )
            edges.append({"from": node, "to": ids[(i + 1) % PER_CLASS]})
    pd.DataFrame(rows).to_csv(folder / "shapes.csv", index=False)
    pd.DataFrame(edges).to_csv(folder / "links.csv", index=False)
    return folder / "shapes.csv", folder / "links.csv", images

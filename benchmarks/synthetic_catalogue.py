"""A synthetic catalogue in format v1, grown from the countries data: N nodes with unique texts and
unique image bytes (each flag re-saved with one pixel changed), for the cache and speed benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from PIL import Image

COUNTRIES = Path(__file__).resolve().parents[1] / "data" / "raw" / "countries"


def write_catalogue(dest: Path, nodes: int, *, images: bool = True) -> Path:
    """``nodes`` nodes: countries rows cycled, ids/texts/images made unique; a ring of edges."""
    base = pd.read_csv(COUNTRIES / "nodes.csv", dtype=str, keep_default_na=False)
    rows = base.iloc[[i % len(base) for i in range(nodes)]].reset_index(drop=True)
    rows["node_id"] = [f"{nid}-{i}" for i, nid in enumerate(rows["node_id"])]
    rows["text"] = [f"{text} Item {i}." for i, text in enumerate(rows["text"])]
    (dest / "images").mkdir(parents=True, exist_ok=True)
    if images:
        names = []
        for i, flag in enumerate(rows["image"]):
            names.append(f"{i}.png")
            touch_image(COUNTRIES / "images" / flag, dest / "images" / names[-1], i)
        rows["image"] = names
    else:
        rows["image"] = ""
    rows.to_csv(dest / "nodes.csv", index=False)
    ids = rows["node_id"].tolist()
    pd.DataFrame({"src": ids, "dst": ids[1:] + ids[:1]}).to_csv(dest / "edges.csv", index=False)
    shutil.copy(COUNTRIES / "dataset.yaml", dest / "dataset.yaml")
    return dest


def touch_image(source: Path, target: Path, salt: int) -> None:
    """Copy an image with pixel (0, 0) set from ``salt``: new bytes, same picture to the eye."""
    with Image.open(source) as image:
        image = image.convert("RGB")
    image.putpixel((0, 0), (salt % 256, (salt // 256) % 256, 7))
    image.save(target)


def change_nodes(dest: Path, positions: list[int], generation: int = 1) -> None:
    """Edit the text and the image of the nodes at ``positions`` (what a nightly update does)."""
    nodes = pd.read_csv(dest / "nodes.csv", dtype=str, keep_default_na=False)
    for i in positions:
        nodes.loc[i, "text"] = f"{nodes.loc[i, 'text']} Updated {generation}."
        if nodes.loc[i, "image"]:
            path = dest / "images" / nodes.loc[i, "image"]
            touch_image(path, path, 100_000 + i * 7 + generation)
    nodes.to_csv(dest / "nodes.csv", index=False)

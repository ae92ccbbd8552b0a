"""Tiny benchmark folders in MM-GRAPH's and MAGB's own layouts, written by the tests themselves.

Three classes of 12 nodes; the CLIP-like features carry the class (so a model can learn from
them alone), edges link nodes of a class, a few labels are -1 (unlabelled), raw ids are
ASIN-like strings, images are small JPEGs in an archive that also holds hostile members.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

N_PER_CLASS, N_CLASSES, DIM = 12, 3, 8
N = N_PER_CLASS * N_CLASSES
COLOURS = ((200, 30, 30), (30, 200, 30), (30, 30, 200))


def _classes() -> np.ndarray:
    return np.repeat(np.arange(N_CLASSES), N_PER_CLASS)


def _features(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_CLASSES, DIM)) * 3
    return (centres[_classes()] + rng.normal(size=(N, DIM))).astype(np.float32)


def _edges(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = []
    for c in range(N_CLASSES):
        members = np.flatnonzero(_classes() == c)
        for i in members:
            for j in rng.choice(members, size=2, replace=False):
                if i != j:
                    pairs.append((int(i), int(j)))
    return np.array(pairs, dtype=np.int64)


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def write_image_tar(path: Path, names: dict[int, str], *, hostile: bool = True) -> None:
    """``<name>.jpg`` for each node (its class colour), plus members a safe extractor must refuse."""
    classes = _classes()
    with tarfile.open(path, "w") as archive:
        for node, name in names.items():
            if node % 7 == 3:
                continue  # some nodes have no image
            _add(archive, f"images/{name}.jpg", _jpeg(COLOURS[classes[node]]))
        if hostile:
            _add(archive, "../../escaped.jpg", _jpeg((0, 0, 0)))  # zip-slip: its name is no node
            _add(archive, f"/abs/{names[1]}.jpg", _jpeg((0, 0, 0)))  # absolute: a second image of node 1
            link = tarfile.TarInfo(f"images/{names[2]}x.jpg")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(link)
            _add(archive, f"images/{names[3]}.jpg", b"not an image")  # node 3 (no image above): undecodable
            _add(archive, "readme.txt", b"hello")


def write_mm_graph_nc(root: Path) -> Path:
    """A node-classification folder: nc_edges-nodeid.pt, labels-w-missing.pt, split.pt, clip_feat.pt,
    node_mapping.pt, <name>-raw-text.jsonl and <name>-images.tar."""
    root.mkdir(parents=True, exist_ok=True)
    asins = {i: f"B{i:05d}X" for i in range(N)}
    labels = _classes().copy()
    labels[[5, 17, 29]] = -1
    rng = np.random.default_rng(1)
    order = rng.permutation(N)
    torch.save(torch.from_numpy(_edges()), root / "nc_edges-nodeid.pt")
    torch.save(labels.tolist(), root / "labels-w-missing.pt")  # a list, as the loaders' torch.tensor(...) allows
    torch.save(
        {"train_idx": torch.from_numpy(order[:20]), "val_idx": torch.from_numpy(order[20:28]),
         "test_idx": torch.from_numpy(order[28:])},
        root / "split.pt",
    )  # fmt: skip
    torch.save(torch.from_numpy(_features()), root / "clip_feat.pt")
    torch.save({asin: i for i, asin in asins.items()}, root / "node_mapping.pt")
    words = ("red apple", "green leaf", "blue sea")
    with (root / f"{root.name}-raw-text.jsonl").open("w") as handle:
        for i, asin in asins.items():
            text = f"item {i}: a {words[_classes()[i]]}\nsecond line"
            handle.write(json.dumps({"asin": asin, "raw_text": text}) + "\n")
        handle.write(json.dumps({"asin": "NOT-A-NODE", "raw_text": "orphan"}) + "\n")
    write_image_tar(root / f"{root.name}-images.tar", asins)
    return root


def write_mm_graph_lp(root: Path) -> Path:
    """A link-prediction folder: lp-edge-split-random.pt (train/valid/test with negatives), clip_feat.pt."""
    root.mkdir(parents=True, exist_ok=True)
    edges = torch.from_numpy(_edges())
    perm = torch.randperm(edges.size(0), generator=torch.Generator().manual_seed(0))
    edges = edges[perm]
    cut1, cut2 = int(0.8 * len(edges)), int(0.9 * len(edges))
    split = {"train": {"source_node": edges[:cut1, 0], "target_node": edges[:cut1, 1]}}
    for key, part in (("valid", edges[cut1:cut2]), ("test", edges[cut2:])):
        split[key] = {
            "source_node": part[:, 0],
            "target_node": part[:, 1],
            "target_node_neg": torch.randint(0, N, (part.size(0), 5)),
        }
    torch.save(split, root / "lp-edge-split-random.pt")
    torch.save(torch.from_numpy(_features()).half(), root / "clip_feat.pt")
    return root


def write_magb(root: Path, name: str = "Toys") -> Path:
    """A MAGB folder: <Name>.csv (id, text, label, neighbour), a stand-in <Name>Graph.pt, TextFeature/ and
    ImageFeature/ .npy, <Name>Images.tar.gz of <id>.jpg."""
    import pandas as pd

    root.mkdir(parents=True, exist_ok=True)
    classes = _classes()
    neighbours: dict[int, list[int]] = {i: [] for i in range(N)}
    for s, t in _edges():
        neighbours[int(s)].append(int(t))
    labels = classes.astype(str).tolist()
    labels[7] = ""  # an unlabelled node
    frame = pd.DataFrame(
        {
            "id": list(range(N)),
            "text": [f"toy {i} in the {('red', 'green', 'blue')[c]} aisle" for i, c in enumerate(classes)],
            "label": labels,
            "neighbour": [str(neighbours[i]) for i in range(N)],
        }
    ).sample(frac=1.0, random_state=0)  # rows in any order: ids say which node a row is
    frame.to_csv(root / f"{name}.csv", index=False)
    (root / f"{name}Graph.pt").write_bytes(b"\x3f\xa1\xb4\x46\xf0\x4f\x2e\xdd DGL binary stand-in")
    (root / "TextFeature").mkdir()
    (root / "ImageFeature").mkdir()
    np.save(root / "TextFeature" / f"{name}_roberta_base_512_mean.npy", _features(0))
    np.save(root / "ImageFeature" / f"{name}_clip_vit.npy", _features(1).astype(np.float16))
    tar_path = root / f"{name}Images.tar"
    write_image_tar(tar_path, {i: str(i) for i in range(N)}, hostile=False)
    with tarfile.open(tar_path) as src, tarfile.open(root / f"{name}Images.tar.gz", "w:gz") as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member))
    os.remove(tar_path)
    return root

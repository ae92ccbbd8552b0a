"""Build data/raw/emoji (format v1) from the npm packages emoji-datasource and emoji-datasource-google.

    npm pack emoji-datasource@16.0.0 emoji-datasource-google@16.0.0
    mkdir ds gg && tar xzf emoji-datasource-16.0.0.tgz -C ds && tar xzf emoji-datasource-google-16.0.0.tgz -C gg
    .venv/bin/python data/raw/emoji/build.py ds/package gg/package data/raw/emoji

One node per emoji (skin-tone variants are not separate nodes). Label: the Unicode category.
Text: the name and the short names. Image: Google's Noto picture, downscaled to 32 px. Table:
the Emoji version it was added in, codepoint count, short-name count, vendor image count, skin
tones yes/no, ASCII emoticon yes/no. Edges: every ZWJ sequence (and tag-sequence flag) linked to
each component that is itself an emoji, e.g. "man technologist" to "man" and to "laptop".
Deliberately left out because they give the label away: sort_order, sheet_x/y, subcategory.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import yaml
from PIL import Image

SIZE = 32
ZWJ, VS16 = "200D", "FE0F"


def _parts(unified: str) -> list[str]:
    return [p for p in unified.split("-") if p != VS16]


def main(datasource: Path, google: Path, out: Path) -> None:
    emojis = json.loads((datasource / "emoji.json").read_text(encoding="utf-8"))
    emojis.sort(key=lambda e: e["unified"])
    by_code = {}
    for e in emojis:
        by_code["-".join(_parts(e["unified"]))] = e["unified"]
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows, edges = [], set()
    for e in emojis:
        node = e["unified"]
        src = google / "img" / "google" / "64" / e["image"]
        image = ""
        if e.get("has_img_google") and src.is_file():
            image = e["image"]
            picture = Image.open(src).convert("RGBA").resize((SIZE, SIZE), Image.LANCZOS)
            white = Image.new("RGBA", picture.size, (255, 255, 255, 255))  # encoders see RGB: no alpha
            Image.alpha_composite(white, picture).convert("RGB").save(out / "images" / image, optimize=True)
        names = [n.replace("_", " ") for n in e["short_names"]]
        text = f"{e['name'].lower()}. Also called: {', '.join(names)}."
        if e.get("texts"):
            text += f" Typed as {' '.join(e['texts'])}."
        rows.append(
            {
                "node_id": node,
                "label": e["category"],
                "text": text,
                "image": image,
                "added_in": e["added_in"],
                "codepoints": len(_parts(node)),
                "short_names": len(e["short_names"]),
                "vendor_images": sum(bool(e.get(f"has_img_{v}")) for v in ("apple", "google", "twitter", "facebook")),
                "skin_tones": "yes" if e.get("skin_variations") else "no",
                "emoticon": "yes" if e.get("texts") else "no",
            }
        )
        parts = _parts(node)
        if ZWJ in parts:
            components = "-".join(parts).split(f"-{ZWJ}-")
        elif len(parts) > 2 and parts[1].startswith("E00"):  # tag sequence: England, Scotland, Wales flags
            components = [parts[0]]
        else:
            components = []
        for component in components:
            target = by_code.get(component)
            if target and target != node:
                edges.add((node, target))
    with (out / "nodes.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with (out / "edges.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sequence", "component"])
        writer.writerows(sorted(edges))
    spec = {
        "name": "emoji",
        "task": "node_classification",
        "id_column": "node_id",
        "label_column": "label",
        "text_columns": ["text"],
        "image_column": "image",
        "numeric_columns": ["added_in", "codepoints", "short_names", "vendor_images"],
        "categorical_columns": ["skin_tones", "emoticon"],
        "edges": {"file": "edges.csv", "source": "sequence", "target": "component", "directed": False},
        "source": "npm emoji-datasource 16.0.0 (MIT, Cal Henderson) and emoji-datasource-google 16.0.0 "
        "(Noto Emoji images, Apache-2.0, Google)",
    }
    (out / "dataset.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    print(f"{len(rows)} emojis, {len(edges)} edges -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))

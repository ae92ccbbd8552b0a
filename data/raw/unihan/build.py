"""Build data/raw/unihan (format v1) from Debian's unicode-data (Unihan 15.0) and fonts-noto-cjk packages.

    apt-get update && apt-get download unicode-data=15.0.0-1 fonts-noto-cjk=1:20220127+repack1-1
    dpkg-deb -x unicode-data_15.0.0-1_all.deb src
    dpkg-deb -x fonts-noto-cjk_1%3a20220127+repack1-1_all.deb src
    .venv/bin/python data/raw/unihan/build.py src/usr/share data/raw/unihan

Nodes: the CJK ideographs that Unihan gives both an English definition (kDefinition) and a
frequency class (kFrequency), restricted to those whose Kangxi radical is one of the ten most
common radicals among them. Label: that Kangxi radical (from the first kRSUnicode value; a
simplified form of a radical, written with an apostrophe, counts as the radical). Text: the
definition (scrubbed, see LEAKS) and the Mandarin and Cantonese readings. Image: the glyph drawn
from Noto Sans CJK TC at 32 px, black on white. Table: total strokes, frequency class, grade
level, number of Mandarin readings, number of IRG sources; whether it is a simplified or a
traditional form, in GB 2312, in Big5, a Japanese Joyo kanji, a Korean education hanja, and its
Unihan core-2020 regions. Edges: every Unihan variant link (simplified, traditional, semantic,
specialized semantic, Z and spoofing variants) between two nodes; the kind is in `relation`.
"""

from __future__ import annotations

import bz2
import csv
import re
import shutil
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml
from PIL import Image, ImageDraw, ImageFont

SIZE, FONT_SIZE, FONT_FACE = 32, 28, 3  # face 3 of NotoSansCJK-Regular.ttc is Noto Sans CJK TC
CLASSES = 10
FILES = ("Readings", "DictionaryLikeData", "IRGSources", "Variants", "OtherMappings")
VARIANTS = {
    "kSimplifiedVariant": "simplified",
    "kTraditionalVariant": "traditional",
    "kSemanticVariant": "semantic",
    "kSpecializedSemanticVariant": "specialized semantic",
    "kZVariant": "z",
    "kSpoofingVariant": "spoofing",
}
#: LEAKS, left out of the table because they give the label away: kRSUnicode, kRSKangXi and
#: kRSAdobe_Japan1_6 (the radical itself); the dictionary positions (kKangXi, kHanYu, kIRGKangXi,
#: kDaeJaweon, kMorohashi, ...), ordered by radical; the GB 2312 / Big5 / JIS / KSC codes, partly
#: ordered by radical (only yes/no membership is kept); kCangjie and kFourCornerCode, which spell the
#: shape of the components; kPhonetic. In the text: clauses naming a radical ("Kangxi radical 85"),
#: code points (U+6C34: the main CJK block is ordered by radical) and ideographs quoted in a definition
#: (both replaced by "another character").
RADICAL_CLAUSE = re.compile(r"[^;,()]*\bradical\b[^;,()]*", re.IGNORECASE)
IDEOGRAPH = r"[\u2e80-\u2fdf\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
QUOTED = re.compile(rf"U\+[0-9A-F]{{4,5}}(\s*{IDEOGRAPH})?|{IDEOGRAPH}+")


def read_unihan(unicode_dir: Path) -> dict[str, dict[str, str]]:
    fields: dict[str, dict[str, str]] = defaultdict(dict)
    for name in FILES:
        with bz2.open(unicode_dir / f"Unihan_{name}.txt.bz2", "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("#") or not line.strip():
                    continue
                code, key, value = line.rstrip("\n").split("\t", 2)
                fields[code][key] = value
    return fields


def radical(entry: dict[str, str]) -> int:
    return int(entry["kRSUnicode"].split()[0].split(".")[0].rstrip("'\""))


def radical_names(unicode_dir: Path) -> dict[int, str]:
    """Kangxi radical number -> English name, from the KANGXI RADICAL characters U+2F00..U+2FD5."""
    names = {}
    for line in (unicode_dir / "UnicodeData.txt").read_text(encoding="utf-8").splitlines():
        code, name = line.split(";")[:2]
        if 0x2F00 <= int(code, 16) <= 0x2FD5:
            names[int(code, 16) - 0x2F00 + 1] = name.removeprefix("KANGXI RADICAL ").lower()
    return names


def scrub(definition: str) -> tuple[str, bool]:
    """The definition without a clause naming a radical; a quoted character becomes "another character"."""
    text = RADICAL_CLAUSE.sub("", definition)
    text = QUOTED.sub("another character", text)
    text = re.sub(r"\s*([;,])(\s*[;,])+", r"\1", re.sub(r"\s+", " ", text)).strip(" ;,")
    return text, text != definition


def select(fields: dict[str, dict[str, str]]) -> tuple[list[str], list[int]]:
    pool = [c for c, e in fields.items() if "kDefinition" in e and "kFrequency" in e and "kRSUnicode" in e]
    counts = Counter(radical(fields[c]) for c in pool)
    top = sorted(counts, key=lambda r: (-counts[r], r))[:CLASSES]
    return sorted((c for c in pool if radical(fields[c]) in top), key=lambda c: int(c[2:], 16)), top


def row(code: str, e: dict[str, str], label: str, text: str, image: str) -> dict[str, object]:
    simplified = any(v.split("<")[0] != code for v in e.get("kTraditionalVariant", "").split())
    traditional = any(v.split("<")[0] != code for v in e.get("kSimplifiedVariant", "").split())
    form = {(True, False): "simplified", (False, True): "traditional"}.get((simplified, traditional), "same")
    return {
        "node_id": code,
        "label": label,
        "text": text,
        "image": image,
        "total_strokes": int(e["kTotalStrokes"].split()[0]),
        "frequency": int(e["kFrequency"]),
        "grade_level": e.get("kGradeLevel", ""),
        "mandarin_readings": len(e.get("kMandarin", "").split()),
        "irg_sources": sum(k.startswith("kIRG_") and k.endswith("Source") for k in e),
        "form": form,
        "gb2312": "yes" if "kGB0" in e else "no",
        "big5": "yes" if "kBigFive" in e else "no",
        "joyo_kanji": "yes" if "kJoyoKanji" in e else "no",
        "korean_education": "yes" if "kKoreanEducationHanja" in e else "no",
        "core_2020": e.get("kUnihanCore2020", ""),
    }


def glyph(font: ImageFont.FreeTypeFont, character: str) -> Image.Image:
    picture = Image.new("L", (SIZE, SIZE), 255)
    ImageDraw.Draw(picture).text((SIZE / 2, SIZE / 2), character, font=font, fill=0, anchor="mm")
    return picture


def variant_edges(nodes: list[str], fields: dict[str, dict[str, str]]) -> list[tuple[str, str, str]]:
    keep, edges = set(nodes), {}
    for code in nodes:
        for key, relation in VARIANTS.items():
            for target in fields[code].get(key, "").split():
                target = target.split("<")[0]
                pair = tuple(sorted((code, target)))
                if target in keep and target != code and pair not in edges:
                    edges[pair] = relation
    return sorted((a, b, relation) for (a, b), relation in edges.items())


def write_csv(path: Path, header: list[str], rows: list) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def main(share: Path, out: Path) -> None:
    unicode_dir = share / "unicode"
    fields = read_unihan(unicode_dir)
    nodes, top = select(fields)
    names = radical_names(unicode_dir)
    labels = {r: f"{names[r]} ({r})" for r in top}
    font = ImageFont.truetype(str(share / "fonts/opentype/noto/NotoSansCJK-Regular.ttc"), FONT_SIZE, index=FONT_FACE)
    missing = glyph(font, "\U0010fffd").tobytes()  # what the font draws for a character it lacks
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows, scrubbed = [], 0
    for code in nodes:
        e = fields[code]
        definition, changed = scrub(e["kDefinition"])
        scrubbed += changed
        readings = f" Mandarin: {e['kMandarin']}." if "kMandarin" in e else ""
        readings += f" Cantonese: {e['kCantonese']}." if "kCantonese" in e else ""
        picture, image = glyph(font, chr(int(code[2:], 16))), f"{code[2:].lower()}.png"
        if picture.tobytes() == missing:
            raise SystemExit(f"{code}: no glyph in the font")
        picture.save(out / "images" / image, optimize=True)
        rows.append(row(code, e, labels[radical(e)], f"{definition}.{readings}", image))
    write_csv(out / "nodes.csv", list(rows[0]), [list(r.values()) for r in rows])
    edges = variant_edges(nodes, fields)
    write_csv(out / "edges.csv", ["source", "target", "relation"], edges)
    spec = {
        "name": "unihan",
        "task": "node_classification",
        "id_column": "node_id",
        "label_column": "label",
        "text_columns": ["text"],
        "image_column": "image",
        "numeric_columns": ["total_strokes", "frequency", "grade_level", "mandarin_readings", "irg_sources"],
        "categorical_columns": ["form", "gb2312", "big5", "joyo_kanji", "korean_education", "core_2020"],
        "edges": {"file": "edges.csv", "source": "source", "target": "target", "directed": False},
        "source": "Unihan 15.0 from Debian unicode-data 15.0.0-1 (Unicode License, modified: extracted and "
        "scrubbed, see README.md) and glyphs drawn from Debian fonts-noto-cjk 1:20220127 (Noto Sans CJK, SIL OFL 1.1)",
    }
    (out / "dataset.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    shutil.copyfile(share / "doc/unicode-data/copyright", out / "LICENSE-data-Unicode.txt")
    shutil.copyfile(share / "doc/fonts-noto-cjk/copyright", out / "LICENSE-font-OFL-1.1.txt")
    print(f"{len(rows)} characters, {len(edges)} edges, {scrubbed} definitions scrubbed -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

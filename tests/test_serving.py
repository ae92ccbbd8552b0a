"""The model people call: inductive prediction on the known graph, bad input, the pyfunc by alias,
and `mlflow models serve` loading it in a fresh process outside the repo and answering a real HTTP
request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from pipeline.atomic import read_json, write_json
from pipeline.dataset import DatasetSpec
from pipeline.errors import DatasetError, GraphFuseError
from pipeline.evaluation.predictions import probabilities
from pipeline.graph import load_graph
from pipeline.inference.bundle import load_bundle
from pipeline.inference.inductive import EncoderCache, predict_new_nodes
from pipeline.inference.known_graph import KnownGraph
from pipeline.paths import Paths
from tests.helpers import BIN, own_tracking_store, project_env

pytestmark = pytest.mark.integration

ENCODERS = EncoderCache()  # one MiniLM / EfficientNet load for the module


def _raw_nodes(dataset_dir: Path) -> pd.DataFrame:
    return pd.read_csv(dataset_dir / "nodes.csv", dtype=str, keep_default_na=False).replace({"": None})


@pytest.fixture(scope="module")
def package(evaluated_project: Path):
    paths = Paths(evaluated_project)
    data, meta = load_graph(paths.graph)
    spec = DatasetSpec.model_validate(read_json(paths.dataset / "dataset.json")["spec"])
    return load_bundle(paths.model), KnownGraph.from_graph(data, meta, spec), data, meta


def test_inductive_prediction_of_held_out_nodes_equals_transductive(package, small_countries: Path) -> None:
    bundle, known, data, meta = package
    held_out = [meta.node_ids[i] for i in data.test_mask.nonzero().flatten().tolist()]
    nodes = _raw_nodes(small_countries)
    nodes = nodes[nodes["node_id"].isin(held_out)]
    edges = pd.read_csv(small_countries / "edges.csv", dtype=str)
    edges = edges[edges["src"].isin(held_out) | edges["dst"].isin(held_out)]
    assert len(edges) > 0  # some held-out nodes are attached to the known graph

    out, notes = predict_new_nodes(
        bundle, known.without(set(held_out)), nodes, edges, images_root=small_countries / "images", encoders=ENCODERS
    )
    transductive = probabilities(bundle.build(), data, torch.device("cpu"))
    rows = [meta.node_ids.index(i) for i in out["node_id"]]
    expected = transductive[rows]
    got = out[[f"p_{c}" for c in bundle.classes]].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert list(out["predicted"]) == [bundle.classes[k] for k in expected.argmax(axis=1)]


def test_new_node_with_missing_modalities_and_an_unseen_category(package) -> None:
    bundle, known, _, _ = package
    nodes = pd.DataFrame(
        {"node_id": ["NEW"], "latitude": [48.0], "longitude": [2.0], "landlocked": ["maybe"], "neighbors": ["FRA"]}
    )
    out, notes = predict_new_nodes(bundle, known, nodes, encoders=ENCODERS)
    assert out.loc[0, "predicted"] in bundle.classes
    assert "'maybe' was never seen in training" in out.loc[0, "notes"]
    assert any("no text" in n for n in notes) and any("no image" in n for n in notes)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ({"node_id": ["N"], "colour": ["red"]}, r"unknown column\(s\) \['colour'\]"),
        ({"label": ["Asia"]}, "id column 'node_id' is missing"),
        ({"node_id": ["FRA"]}, "already a node of the training graph"),
        ({"node_id": ["N"], "neighbors": ["NOPE"]}, "neighbor 'NOPE' is neither a known nor a new node"),
        ({"node_id": ["N"], "image": ["../../etc/passwd"]}, "leaves the images root"),
        ({"node_id": ["N"], "image": ["nope.png"]}, "not found under the images root"),
        ({"node_id": ["N"], "image_bytes": [b"not an image"]}, "cannot decode image"),
        ({"node_id": ["N"], "area_km2": ["huge"]}, "'huge' is not a number"),
        ({"node_id": ["N", "M"], "latitude": [1.0, float("inf")]}, r"request, row 1, column 'latitude': 'inf' is not"),
        (
            {"node_id": ["N"], "Text": ["Republic"]},
            r"request: unknown column\(s\) \['Text'\]; this model \(trained on dataset 'countries'\) reads",
        ),
        ({"node_id": ["N"], "text": ["x" * (9 << 20)]}, r"column 'text': a cell of 9 MiB is larger than the 8 MiB"),
        ({"node_id": [f"N{i}" for i in range(100_001)]}, "100001 rows: at most 100000 new nodes per request"),
    ],
)
def test_bad_input_is_a_clear_error(package, small_countries: Path, frame: dict, message: str) -> None:
    bundle, known, _, _ = package
    with pytest.raises(DatasetError, match=message):  # an empty cache: the checks come before any encoder loads
        predict_new_nodes(
            bundle, known, pd.DataFrame(frame), images_root=small_countries / "images", encoders=EncoderCache()
        )


def test_a_text_longer_than_the_encoder_reads_is_cut_before_tokenising_and_noted(package) -> None:
    bundle, known, _, _ = package
    text = "Republic of Nowhere. " * 20_000  # 420 000 characters; MiniLM reads 256 tokens
    out, _ = predict_new_nodes(bundle, known, pd.DataFrame({"node_id": ["N"], "text": [text]}), encoders=ENCODERS)
    short, _ = predict_new_nodes(
        bundle, known, pd.DataFrame({"node_id": ["N"], "text": [text[:8192]]}), encoders=ENCODERS
    )
    assert "text of 420000 characters: only the first 8192 were tokenised" in out.loc[0, "notes"]
    np.testing.assert_allclose(out.filter(like="p_").to_numpy(), short.filter(like="p_").to_numpy(), atol=1e-6)


def test_an_incompatible_bundle_is_refused(evaluated_project: Path, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(Paths(evaluated_project).model, tmp_path / "model"))
    meta = read_json(copy / "model.json")
    write_json(copy / "model.json", meta | {"format": 99})
    with pytest.raises(GraphFuseError, match="written with format 99"):
        load_bundle(copy)


def _clean_env(root: Path) -> dict[str, str]:
    return project_env(MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")


REQUEST = pd.DataFrame(
    {
        "node_id": ["NEW1", "NEW2"],
        "text": ["Republic of Nowhere. Capital: Somewhere. Languages: French.", None],
        "image": ["FRA.png", None],
        "latitude": [46.0, -20.0],
        "longitude": [2.0, 140.0],
        "neighbors": ["FRA;NEW2", ""],
    }
)


def test_pyfunc_loads_by_alias_with_an_images_root_and_names_the_columns_it_reads(
    evaluated_project: Path, small_countries: Path
) -> None:
    """MLflow's own API, by alias, with ``model_config``'s images root (the served model below takes
    ``$GRAPHFUSE_IMAGES_ROOT``). In the test process: the fresh process outside the repo is the
    served model's, which loads this pyfunc by alias too (a second fresh process cost ~11 CPU-s)."""
    import mlflow

    from pipeline.tracking import connect_tracking

    with own_tracking_store():
        connect_tracking(evaluated_project)
        model = mlflow.pyfunc.load_model(
            "models:/graphfuse@champion", model_config={"images_root": str(small_countries / "images")}
        )
        out = model.predict(REQUEST)  # NEW1's FRA.png is read from the images root
    names = list(model.metadata.metadata["graphfuse_input_columns"])
    assert {"node_id", "text", "image", "image_bytes", "neighbors", "latitude"} <= set(names)
    assert "Text" not in names and "label" not in names
    rows = out.to_dict(orient="records")
    assert [r["node_id"] for r in rows] == ["NEW1", "NEW2"]
    assert all(abs(sum(v for k, v in r.items() if k.startswith("p_")) - 1) < 1e-4 for r in rows)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlflow_models_serve_answers_http_on_loopback(
    evaluated_project: Path, small_countries: Path, tmp_path: Path
) -> None:
    port = _free_port()
    temp = tmp_path / "tmp"  # issue 16 item 12: PyG's generated propagate() files used to stay here
    temp.mkdir()
    env = _clean_env(evaluated_project) | {
        "GRAPHFUSE_IMAGES_ROOT": str(small_countries / "images"),
        "TMPDIR": str(temp),
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # MLflow starts uvicorn from PATH
    command = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        "models:/graphfuse@champion",
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    server = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(1)
        body = json.dumps({"dataframe_split": json.loads(REQUEST.to_json(orient="split", index=False))})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
        rows = answer["predictions"]
        assert [r["node_id"] for r in rows] == ["NEW1", "NEW2"]
        assert {r["predicted"] for r in rows} <= {"Africa", "Americas", "Asia", "Europe", "Oceania"}
        assert all(abs(sum(v for k, v in r.items() if k.startswith("p_")) - 1) < 1e-4 for r in rows)
        assert [p.name for p in temp.iterdir() if p.name.endswith(".py")] == []  # the model is built by now

        escape = {"dataframe_split": {"columns": ["node_id", "image"], "data": [["X", "../../secret.png"]]}}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(escape).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 400
        assert (
            "row 0, column 'image': image path '../../secret.png' leaves the images root"
            in refused.value.read().decode()
        )
        for columns, row, message in (
            (["node_id", "Text", "latitud"], ["X", "Republic", 46.0], "unknown column(s) ['Text', 'latitud']"),
            (["node_id", "text"], ["X", "y" * (9 << 20)], "a cell of 9 MiB is larger than the 8 MiB allowed"),
        ):  # MLflow's own schema enforcement would drop Text and latitud and answer 200 from no features
            body = {"dataframe_split": {"columns": columns, "data": [row]}}
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/invocations",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=60)
            assert refused.value.code == 400 and message in refused.value.read().decode()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 15)
        server.wait(timeout=30)


def _graphfuse(args: list[str], root: Path):
    """The real CLI, in-process (a subprocess would re-import torch for each call)."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    with own_tracking_store():
        return CliRunner().invoke(app, [*args, "--root", str(root)], catch_exceptions=False)


def test_cli_predicts_new_nodes_to_csv_and_refuses_edges_to_unknown_nodes(
    evaluated_project: Path, small_countries: Path, tmp_path: Path
) -> None:
    nodes = tmp_path / "new_nodes.csv"
    nodes.write_text("node_id,image,latitude,longitude,landlocked\nNEW1,FRA.png,46.5,2.5,false\nNEW2,,,,\n")
    edges = tmp_path / "new_edges.csv"
    edges.write_text("src,dst\nNEW1,FRA\nNEW2,NEW1\n")
    out = tmp_path / "preds.csv"
    common = ["--nodes", str(nodes), "--edges", str(edges), "--images-root", str(small_countries / "images")]
    result = _graphfuse(
        ["predict", "--model", "models:/graphfuse@champion", *common, "--out", str(out)], evaluated_project
    )
    assert result.exit_code == 0, result.output[-3000:]
    predictions = pd.read_csv(out)
    assert list(predictions["node_id"]) == ["NEW1", "NEW2"]
    assert {"predicted", "confidence", "p_Europe", "notes"} <= set(predictions.columns)

    missing = tmp_path / "never.csv"
    edges.write_text("src,dst\nNEW1,ATLANTIS\n")
    result = _graphfuse(
        ["predict", "--model", "models:/graphfuse@champion", *common, "--out", str(missing)], evaluated_project
    )
    assert result.exit_code == 1 and "row 2, column 'dst': unknown node 'ATLANTIS'" in result.output
    assert not missing.exists()

    nodes.write_text("node_id,latitude,longitude\nNEW1,46.5,2.5\nNEW2,inf,3\n")  # validate refuses inf too
    result = _graphfuse(
        ["predict", "--model", "models:/graphfuse@champion", "--nodes", str(nodes), "--out", str(missing)],
        evaluated_project,
    )
    assert result.exit_code == 1 and f"{nodes}, row 3, column 'latitude': 'inf' is not a number" in result.output
    assert not missing.exists()

    nodes.write_text("node_id,text\nNEW1," + "x" * (9 << 20) + "\n")  # the dataset's cap, before pandas reads it
    result = _graphfuse(
        ["predict", "--model", "models:/graphfuse@champion", "--nodes", str(nodes), "--out", str(missing)],
        evaluated_project,
    )
    assert result.exit_code == 1 and f"{nodes}, row 2: line 2 is longer than 8 MiB" in result.output


def test_cli_registry_list_and_a_missing_version(evaluated_project: Path) -> None:
    listed = _graphfuse(["registry", "list"], evaluated_project)
    assert listed.exit_code == 0 and "version=1" in listed.output and "aliases=champion" in listed.output
    refused = _graphfuse(["registry", "promote", "99"], evaluated_project)
    assert refused.exit_code == 1 and "no version 99" in refused.output


def test_predicting_a_dataset_reports_categories_never_seen_in_training(package, editable_countries: Path) -> None:
    from pipeline.inference.predict import predict_dataset

    spec = yaml.safe_load((editable_countries / "dataset.yaml").read_text())
    spec["text_columns"], spec["image_column"] = [], None  # tabular only: no encoder to load
    (editable_countries / "dataset.yaml").write_text(yaml.safe_dump(spec))
    nodes = pd.read_csv(editable_countries / "nodes.csv", dtype=str, keep_default_na=False)
    nodes.loc[2, "landlocked"] = "maybe"  # spreadsheet row 4
    nodes.to_csv(editable_countries / "nodes.csv", index=False)
    predictions, notes = predict_dataset(package[0], editable_countries, device="cpu", progress=False)
    assert len(predictions) == 40
    assert any("'landlocked' never seen in training (row 4 'maybe')" in note for note in notes)

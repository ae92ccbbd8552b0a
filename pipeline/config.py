"""Typed settings: one model per params.yaml section, so a typo fails loudly at load time.

Types are strict (``lr: true`` is not 1.0, ``seeds: 2.5`` is not 2), keys that depend on each
other are checked together here rather than deep inside a stage, an empty file is an error, and
every error is one line naming the key, the value and what is allowed (:mod:`pipeline.config_errors`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from pipeline.config_errors import error_lines
from pipeline.errors import GraphFuseError
from pipeline.params_yaml import safe_load_params, yaml_where


class _Section(BaseModel):
    # strict: YAML's true is not a number and 2.5 is not a whole number; an int is still a float.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DatasetParams(_Section):
    # YAML gives text: not strict
    dir: Annotated[Path, Field(strict=False, description="the dataset folder (format v1)")] = Path("data/raw/countries")
    # Overrides dataset.yaml's task, so one folder serves both (e.g. countries' borders as links).
    task: Literal["node_classification", "link_prediction"] | None = None


class ValidateParams(_Section):
    seed: int = Field(42, description="seed of the stratified split (when the dataset has no split column)")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share of labelled nodes held out for validation")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="share of labelled nodes held out for testing")
    # link prediction (task: link_prediction): the fractions above are of edges (random) or of linked nodes (inductive)
    edge_split: Literal["random", "inductive"] = "random"

    @model_validator(mode="after")
    def _leave_room_for_training(self) -> ValidateParams:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction = {self.val_fraction} + test_fraction = {self.test_fraction}: "
                "the sum must be below 1 (the rest is the training split)"
            )
        return self


class PreprocessParams(_Section):
    """Settings shared by the three preprocess stages (the embedding cache, shards, strictness)."""

    cache_dir: str = Field(".cache/graphfuse/embeddings", description="embedding cache; '' turns it off")
    shard_size: int = Field(1024, gt=0, description="items encoded (and cached) per shard")
    float16: bool = Field(False, description="store the features (x.npy) as float16")
    strict: bool = Field(False, description="any skipped item fails the stage")
    allow_download: bool = Field(False, description="may encoders download weights")
    runner: Literal["local", "dask"] = Field("local", description="dask: shards over a Dask cluster (prefect-dask)")
    dask_address: str | None = Field(None, description="tcp://host:8786 of a Dask scheduler; None: a LocalCluster")
    dask_workers: int = Field(2, gt=0, description="LocalCluster workers when dask_address is None")


class TextParams(_Section):
    encoder: str = Field("all-MiniLM-L6-v2", description="a sentence-transformers name or folder, or tfidf")
    batch_size: int = Field(64, gt=0, description="texts per forward pass")
    device: str = Field("auto", description="auto (CUDA when there is one), cpu or cuda")
    tfidf_dim: int = Field(256, gt=0, description="components of the tfidf encoder's truncated SVD")


class ImageParams(_Section):
    encoder: str = Field("efficientnet-lite0", description="or torchvision/<arch>, timm/<name>, color-histogram")
    batch_size: int = Field(32, gt=0, description="images per forward pass")
    image_size: int = Field(224, gt=0, description="side in pixels the images are resized to")
    device: str = Field("auto", description="auto (CUDA when there is one), cpu or cuda")
    decode_workers: int | None = Field(None, ge=0, description="DataLoader decoding processes; None: half the cores")
    weights: str | None = Field(None, description="local weights file for torchvision/<arch> or timm/<name>")
    histogram_bins: int = Field(8, ge=2, le=32, description="bins per channel of color-histogram (bins^3 dims)")


class TabularParams(_Section):
    clip: float = Field(5.0, gt=0, description="standardised values are clipped to [-clip, clip]")
    max_onehot: int = Field(32, gt=0, description="categorical columns with more categories get hashed embeddings")
    category_embedding_dim: int = Field(8, gt=0, description="dims of the hashed embedding of such a column")


class KnnParams(_Section):
    """kNN edges added to the dataset's own (see pipeline/graph/knn.py)."""

    enabled: bool = Field(False, description="add kNN edges to the dataset's own")
    # text, image, tabular, fused, or a precomputed embedding of the dataset (emb_<name>)
    modality: Literal["text", "image", "tabular", "fused"] | Annotated[str, Field(pattern=r"^emb_\w+$")] = "text"
    k: int = Field(10, gt=0, description="neighbours per node, by cosine similarity (exact search)")
    mutual: bool = Field(False, description="keep a pair only when each node is among the other's k")
    cap: int | None = Field(None, gt=0, description="most kNN edges per node; null = no cap")


class BuildGraphParams(_Section):
    knn: KnnParams = KnnParams()
    # link prediction: fixed evaluation candidates, stored with the graph
    eval_negatives: int = Field(100, gt=0, description="corrupted targets ranked against each val/test positive")
    negatives_seed: int = Field(0, description="seed of those fixed candidates")


class TrainParams(_Section):
    seed: int = Field(0, description="the registered model's seed; the spread trains seed, seed+1, ...")
    projection_dim: int = Field(64, gt=0, description="size of each modality's projection")
    hidden_dim: int = Field(128, gt=0, description="hidden size of the backbone")
    dropout: float = Field(0.5, ge=0, lt=1)
    lr: float = Field(0.005, gt=0, description="AdamW learning rate")
    weight_decay: float = Field(5e-4, ge=0, description="AdamW weight decay")
    max_epochs: int = Field(300, gt=0)
    patience: int = Field(40, gt=0, description="epochs without a better monitor value before stopping")
    monitor: Literal["val_loss", "val_accuracy", "val_macro_f1"] = Field("val_loss", description="picks the best epoch")
    device: str = Field("auto", description="auto (CUDA when there is one), cpu or cuda")
    # --- model zoo (pipeline/models): what to build ---
    fusion: Literal["early", "late", "gated"] = Field("early", description="how the modalities are combined")
    backbone: Literal["mlp", "gcn", "sage", "gat", "gatv2", "sign"] = Field("sage", description="mlp ignores the graph")
    num_layers: int = Field(2, ge=1)
    norm: Literal["none", "batch", "layer"] = "none"
    residual: bool = Field(False, description="residual connections between layers")
    jk: Literal["none", "last", "cat", "max"] = Field("none", description="jumping knowledge over the layers")
    skip: bool = Field(False, description="a linear path from the fused input to the output (own features)")
    heads: int = Field(4, ge=1, description="attention heads of gat/gatv2 hidden layers")
    hops: int = Field(2, ge=0, description="precomputed propagation steps of the sign backbone")
    missing_token: bool = Field(True, description="a learned token stands in for a missing modality")
    modality_dropout: float = Field(0.1, ge=0, lt=1, description="chance training hides a node's modality")
    # --- training (pipeline/training): how to fit it ---
    scheduler: Literal["none", "plateau", "cosine"] = Field(
        "plateau", description="plateau halves the LR when val loss stalls"
    )
    class_weights: Literal["none", "balanced"] = Field("none", description="balanced: inverse class frequency")
    grad_clip: float = Field(1.0, ge=0, description="max gradient norm; 0 turns clipping off")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: fp32 on CPU, bf16/fp16 on CUDA"
    )
    batching: Literal["auto", "full", "sign", "neighbor"] = Field("auto", description="see minibatch_threshold")
    minibatch_threshold: int = Field(200_000, gt=0, description="auto batching: nodes above this train in mini-batches")
    batch_size: int = Field(4096, gt=0, description="nodes per mini-batch")
    fanout: int = Field(10, gt=0, description="neighbours sampled per node and layer (neighbor batching)")
    checkpoint_every: int = Field(10, ge=0, description="epochs between resumable checkpoints; 0 turns them off")
    # --- link prediction (pipeline/tasks/link): the encoder above, then a decoder on node pairs ---
    decoder: Literal["dot", "mlp", "distmult"] = Field("dot", description="how a node pair is scored")
    embedding_dim: int = Field(64, gt=0, description="node embedding size the decoder scores")
    train_negatives: int = Field(1, gt=0, description="uniform negative pairs per training positive, fresh each epoch")
    # --- Correct & Smooth after training (C&S over the training labels; README "Accuracy") ---
    smoothing: Literal["auto", "off"] | Annotated[float, Field(ge=0, lt=1)] = Field(
        "auto", description="auto: chosen on val"
    )
    smoothing_layers: int = Field(50, ge=1, description="label-propagation steps of the smoothing")
    smoothing_correct: bool = Field(False, description="also C&S's correct step (training residuals)")
    # --- per-modality auxiliary classifiers (pipeline/models/modality_heads.py), training only ---
    modality_aux_weight: float = Field(0.0, ge=0, description="weight of the per-modality heads' loss; 0 = none")
    input_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on each embedding before its projection")
    # --- search over the zoo, selection on folds, greedy ensemble (pipeline/search, docs/search.md) ---
    # YAML 1.1 reads a bare `off` as false, and `dvc exp run -S` rewrites a quoted "off" bare: both mean off.
    search: Annotated[Literal["off", "auto"], BeforeValidator(lambda v: "off" if v is False else v)] = Field(
        "auto", description="auto: an Optuna search over the zoo, registering a weighted ensemble (docs/search.md)"
    )
    search_trials: int = Field(20, ge=1, description="trials (finished or pruned) the search may run")
    search_seconds: float = Field(150.0, gt=0, description="wall-clock budget of the search")
    search_folds: int = Field(5, ge=2, description="folds of train+val nodes when val is small")
    search_cv_below: int = Field(1000, ge=0, description="fewer labelled val nodes than this: score by folds")
    search_top: int = Field(8, ge=1, description="best trials the ensemble may draw from")
    search_rounds: int = Field(20, ge=1, description="greedy ensemble-selection rounds")
    search_storage: str = Field(".cache/graphfuse/search/studies.db", description="SQLite file or database URL")

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> TrainParams:
        """GAT layers split hidden_dim over the heads (as FusionModelConfig checks, but at load time)."""
        if self.backbone in ("gat", "gatv2") and self.hidden_dim % self.heads:
            raise ValueError(
                f"heads = {self.heads} must divide hidden_dim = {self.hidden_dim} for the {self.backbone} "
                f"backbone (each head gets hidden_dim / heads channels)"
            )
        return self


class EvaluateParams(_Section):
    champion_metric: Literal["accuracy", "macro_f1"] = Field("macro_f1", description="val metric the registry compares")
    # Spread over training seeds (issue 7): seeds train.seed, train.seed+1, ...; fewer on big graphs.
    seeds: int = Field(5, ge=1, description="training seeds of the spread (mean ± sd)")
    seeds_node_limit: int = Field(20000, ge=1, description="above this many nodes, use seeds_large seeds")
    seeds_large: int = Field(1, ge=1, description="training seeds above seeds_node_limit nodes")
    retrain_ablation: bool = Field(False, description="also train without each modality, and without edges")
    embedding_map: bool = Field(True, description="draw the t-SNE map of the node embeddings")


class RegistryParams(_Section):  # when a version takes the champion alias (tracking/champion_rule.py)
    min_delta: float = Field(0.005, ge=0, description="the champion moves only on a val gain of at least this")
    test: Literal["mcnemar", "none"] = Field("mcnemar", description="and McNemar's test on the val nodes agrees")
    level: float = Field(0.05, gt=0, lt=1, description="the test's significance level (one-sided)")
    auto_promote: bool = Field(True, description="false: a version never takes the alias by itself")


#: Registry names of the datasets shipped with GraphFuse: countries keeps the name the docs and every
#: existing registry use (``models:/graphfuse@champion``); any other dataset gets its own name.
SHIPPED_MODEL_NAMES = {"countries": "graphfuse"}


def default_model_name(dataset_name: str) -> str:
    """``graphfuse-<dataset>``: one registered model per dataset, so training on your data never
    files a version beside (and compared with) another dataset's champion."""
    if dataset_name in SHIPPED_MODEL_NAMES:
        return SHIPPED_MODEL_NAMES[dataset_name]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", dataset_name).strip("-.") or "dataset"
    return f"graphfuse-{slug}"


class TrackingParams(_Section):
    experiment: str = "graphfuse"
    model_name: str | None = Field(
        None, description="registered model name; null: graphfuse-<dataset name> (countries: graphfuse)"
    )
    champion_alias: str = "champion"

    def registered_name(self, dataset_name: str) -> str:
        """The model name to register under and read from: ``model_name``, else derived from the dataset."""
        return self.model_name or default_model_name(dataset_name)


class OrchestrationParams(_Section):
    """How scheduled and ad-hoc runs are driven; no DVC stage depends on these."""

    stage_timeout_s: float = Field(3600, gt=0, description="a stage running longer fails its flow run")
    lock_wait_s: float = Field(1800, ge=0, description="how long a run waits for another run of the project")
    retries: int = Field(3, ge=0, description="retries of safe I/O steps (DVC remote push, registry reads)")
    warm_stages: bool = Field(
        True, description="`graphfuse repro` runs stages from one warm process that imported torch, PyG, ... once"
    )
    stage_host_idle_s: float = Field(
        60,
        ge=0,
        description="a lone `graphfuse stage` (plain `dvc repro`) leaves a Prefect server and warm stage "
        "server for the next stage, stopping after this many idle seconds; 0: each stage starts its own",
    )


class Params(_Section):
    dataset: DatasetParams = DatasetParams()
    validate_: ValidateParams = Field(ValidateParams(), alias="validate")
    preprocess: PreprocessParams = PreprocessParams()
    preprocess_text: TextParams = TextParams()
    preprocess_image: ImageParams = ImageParams()
    preprocess_tabular: TabularParams = TabularParams()
    build_graph: BuildGraphParams = BuildGraphParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    tracking: TrackingParams = TrackingParams()
    registry: RegistryParams = RegistryParams()
    orchestration: OrchestrationParams = OrchestrationParams()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read params.yaml; a missing or bad file is a clear error (never silently the defaults)."""
    path = Path(path)
    if not path.is_file():
        raise GraphFuseError(f"{path}: params file not found (check --params and --root)")
    try:
        raw = safe_load_params(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise GraphFuseError(f"{path}: not valid YAML{yaml_where(exc)}") from exc
    if raw is None:
        raise GraphFuseError(
            f"{path}: the file is empty; write the sections you change, or '{{}}' to use every default on purpose"
        )
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise GraphFuseError("\n".join(f"{path}: {line}" for line in error_lines(exc, Params))) from exc


def project_model_name(params: Params, root: str | Path = ".") -> str:
    """The registered model name of a project: ``tracking.model_name``, else derived from the name in
    its dataset's dataset.yaml (so ``registry list`` reads the same name evaluate registers under)."""
    if params.tracking.model_name:
        return params.tracking.model_name
    from pipeline.dataset.schema import load_spec  # only when the name is derived

    return default_model_name(load_spec(Path(root) / params.dataset.dir).name)

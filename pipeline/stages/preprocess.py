"""Stages preprocess_text, preprocess_image and preprocess_tabular: one feature folder each.

Texts and images go through the embedding cache (``preprocess.cache_dir``), so a rerun encodes
only new or changed items. A dataset without a modality still gets its folder (zero columns,
empty mask), so the DVC graph is the same for every dataset and build_graph leaves it out.
Each stage ends by printing and logging what it skipped and why; ``preprocess.strict`` makes
any skip a failure. ``map_shards`` (given by the flow for ``preprocess.runner: dask``) fans the
encoding shards out.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from pipeline.atomic import write_json
from pipeline.config import Params
from pipeline.dataset import read_processed
from pipeline.device import resolve_device
from pipeline.encoders.histogram import COLOR_HISTOGRAM
from pipeline.encoders.registry import make_image_encoder, make_text_encoder
from pipeline.encoders.tfidf import TFIDF
from pipeline.errors import GraphFuseError
from pipeline.features import (
    TABULAR_STATE_FILE,
    ModalityFeatures,
    save_feature_group,
    save_features,
    state_fingerprint,
)
from pipeline.features.encode import (
    EncodeOptions,
    EncodeReport,
    encode_image_modality,
    encode_text_modality,
    fit_tabular,
    node_texts,
    tabular_features,
)
from pipeline.features.runner import MapShards, cache_for
from pipeline.paths import Paths
from pipeline.stages import show_progress

log = logging.getLogger("graphfuse.preprocess")


def _summary(features: ModalityFeatures) -> dict:
    return {
        "modality": features.modality,
        "dim": features.dim,
        "nodes_with_modality": int(features.mask.sum()),
        "nodes_missing_modality": int((~features.mask).sum()),
        **features.info,
    }


def _options(params: Params, paths: Paths, map_shards: MapShards | None) -> EncodeOptions:
    settings = params.preprocess
    cache = cache_for(paths.under_root(settings.cache_dir) if settings.cache_dir else None)
    return EncodeOptions(cache, settings.shard_size, map_shards, show_progress())


def _finish(kind: str, results: list[tuple[ModalityFeatures, EncodeReport]], params: Params, paths: Paths) -> dict:
    """Print and log the report, fail under strict, write the folder, return the summary."""
    for _, report in results:
        for line in report.lines():
            print(line)
            log.info(line)
    skipped = [s for _, report in results for s in report.skipped]
    if params.preprocess.strict and skipped:
        raise GraphFuseError(
            f"preprocess.strict is on and {len(skipped)} item(s) were skipped; first: {skipped[0].line()}"
        )
    group = {f.modality: (f, {"report": _content_report(r)}) for f, r in results}
    save_feature_group(paths.feature_file(kind), group, float16=params.preprocess.float16)
    summaries = {f.modality: {**_summary(f), **r.summary()} for f, r in results}
    return next(iter(summaries.values())) if len(summaries) == 1 else {"modalities": summaries}


#: What a report says about this run rather than about the data: the cache's hits and misses, how
#: many items were encoded anew, and the decoding notes (made only for the images decoded this run).
#: They stay in the stage's summary and printed lines, not in the feature folder, whose bytes must
#: depend on the data and settings alone: with them, a rerun that found the embeddings in the cache
#: wrote a different manifest, and DVC reran every stage after it.
RUN_ONLY_KEYS = ("cache", "encoded", "notes")


def _content_report(report: EncodeReport) -> dict:
    return {key: value for key, value in report.summary().items() if key not in RUN_ONLY_KEYS}


def run_text(params: Params, paths: Paths, map_shards: MapShards | None = None) -> dict:
    dataset = read_processed(paths.dataset, project_root=paths.root)
    settings = params.preprocess_text
    groups = dataset.spec.modality_groups("text")
    if not groups:
        return _finish("text", [(ModalityFeatures.absent("text", dataset.ids), EncodeReport("text"))], params, paths)
    if settings.encoder == TFIDF:
        encoder = make_text_encoder(TFIDF, dim=settings.tfidf_dim)
        train = dataset.in_split("train")
        texts = node_texts(dataset)
        encoder.fit([t for t, keep in zip(texts, train, strict=True) if keep and t is not None])
    else:
        encoder = make_text_encoder(
            settings.encoder,
            device=str(resolve_device(settings.device)),
            batch_size=settings.batch_size,
            progress=show_progress(),
            allow_download=params.preprocess.allow_download,
        )
    options = _options(params, paths, map_shards)
    results = [encode_text_modality(dataset, encoder, name, cols, options) for name, cols in groups.items()]
    return _finish("text", results, params, paths)


def run_image(params: Params, paths: Paths, map_shards: MapShards | None = None) -> dict:
    dataset = read_processed(paths.dataset, project_root=paths.root)
    settings = params.preprocess_image
    groups = dataset.spec.modality_groups("image")
    if not groups:
        return _finish("image", [(ModalityFeatures.absent("image", dataset.ids), EncodeReport("image"))], params, paths)
    common = {"batch_size": settings.batch_size, "progress": show_progress(), "decode_workers": settings.decode_workers}
    if settings.encoder == COLOR_HISTOGRAM:
        encoder = make_image_encoder(COLOR_HISTOGRAM, bins=settings.histogram_bins, **common)
    else:
        encoder = make_image_encoder(
            settings.encoder,
            device=str(resolve_device(settings.device)),
            image_size=settings.image_size,
            weights=paths.under_root(settings.weights) if settings.weights else None,
            allow_download=params.preprocess.allow_download,
            **common,
        )
    options = _options(params, paths, map_shards)
    results = [encode_image_modality(dataset, encoder, name, cols, options) for name, cols in groups.items()]
    return _finish("image", results, params, paths)


def run_tabular(params: Params, paths: Paths) -> dict:
    dataset = read_processed(paths.dataset, project_root=paths.root)
    settings = params.preprocess_tabular
    if not (dataset.spec.numeric_columns or dataset.spec.categorical_columns):
        features = ModalityFeatures.absent("tabular", dataset.ids)
        state: dict = {}
    else:
        encoder = fit_tabular(
            dataset, clip=settings.clip, max_onehot=settings.max_onehot, embedding_dim=settings.category_embedding_dim
        )
        features = tabular_features(dataset, encoder)
        state = encoder.to_dict()
    # Two files, one set: the features name the state they were made with, so build_graph can
    # tell a pair a kill left half-replaced (new features, old state) and refuse it.
    features = replace(features, info={**features.info, "state_sha": state_fingerprint(state)})
    save_features(paths.feature_file("tabular"), features, float16=params.preprocess.float16)
    write_json(paths.features / TABULAR_STATE_FILE, state)
    return _summary(features)

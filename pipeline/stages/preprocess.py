"""Stages preprocess_text, preprocess_image and preprocess_tabular: one feature file each.

A dataset without a modality still gets its file (zero columns, empty mask), so the DVC
graph is the same for every dataset and build_graph simply leaves that modality out.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline.atomic import write_json
from pipeline.config import Params
from pipeline.dataset import read_processed
from pipeline.encoders.registry import make_image_encoder, make_text_encoder
from pipeline.features import ModalityFeatures, save_features, state_fingerprint
from pipeline.featurize import fit_tabular, image_features, tabular_features, text_features
from pipeline.paths import Paths
from pipeline.stages import show_progress
from pipeline.training import resolve_device

TABULAR_STATE_FILE = "tabular_state.json"


def _summary(features: ModalityFeatures) -> dict:
    return {
        "modality": features.modality,
        "dim": features.dim,
        "nodes_with_modality": int(features.mask.sum()),
        "nodes_missing_modality": int((~features.mask).sum()),
        **features.info,
    }


def run_text(params: Params, paths: Paths) -> dict:
    dataset = read_processed(paths.dataset, project_root=paths.root)
    settings = params.preprocess_text
    if not dataset.spec.text_columns:
        features = ModalityFeatures.absent("text", dataset.ids)
    else:
        device = str(resolve_device(settings.device))
        encoder = make_text_encoder(
            settings.encoder, device=device, batch_size=settings.batch_size, progress=show_progress()
        )
        features = text_features(dataset, encoder)
    save_features(paths.feature_file("text"), features)
    return _summary(features)


def run_image(params: Params, paths: Paths) -> dict:
    dataset = read_processed(paths.dataset, project_root=paths.root)
    settings = params.preprocess_image
    if not dataset.spec.image_column:
        features = ModalityFeatures.absent("image", dataset.ids)
    else:
        device = str(resolve_device(settings.device))
        encoder = make_image_encoder(
            settings.encoder,
            device=device,
            batch_size=settings.batch_size,
            image_size=settings.image_size,
            progress=show_progress(),
        )
        features = image_features(dataset, encoder)
    save_features(paths.feature_file("image"), features)
    return _summary(features)


def run_tabular(params: Params, paths: Paths) -> dict:
    dataset = read_processed(paths.dataset, project_root=paths.root)
    if not (dataset.spec.numeric_columns or dataset.spec.categorical_columns):
        features = ModalityFeatures.absent("tabular", dataset.ids)
        state: dict = {}
    else:
        encoder = fit_tabular(dataset, clip=params.preprocess_tabular.clip)
        features = tabular_features(dataset, encoder)
        state = encoder.to_dict()
    # Two files, one set: the features name the state they were made with, so build_graph can
    # tell a pair a kill left half-replaced (new features, old state) and refuse it.
    features = replace(features, info={**features.info, "state_sha": state_fingerprint(state)})
    save_features(paths.feature_file("tabular"), features)
    write_json(paths.features / TABULAR_STATE_FILE, state)
    return _summary(features)

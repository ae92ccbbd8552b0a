"""Per-modality features, by job: the on-disk format (:mod:`.format`), turning a dataset's columns
into features (:mod:`.encode`), the cached, sharded encoder runner (:mod:`.runner`), and fitted
encoder states (:mod:`.states`).

The package itself exposes the format, as the old ``pipeline.features`` module did.
"""

from pipeline.features.format import (
    MANIFEST_FILE,
    MASK_FILE,
    MODALITIES,
    PRECOMPUTED,
    TABULAR_STATE_FILE,
    X_FILE,
    ModalityFeatures,
    ids_fingerprint,
    load_feature_group,
    load_features,
    read_manifest,
    save_feature_group,
    save_features,
    state_fingerprint,
)

__all__ = [
    "MANIFEST_FILE",
    "MASK_FILE",
    "MODALITIES",
    "PRECOMPUTED",
    "TABULAR_STATE_FILE",
    "X_FILE",
    "ModalityFeatures",
    "ids_fingerprint",
    "load_feature_group",
    "load_features",
    "read_manifest",
    "save_feature_group",
    "save_features",
    "state_fingerprint",
]

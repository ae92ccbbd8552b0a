"""A trained model with everything needed to predict on a new dataset folder.

``model.safetensors`` holds the weights, ``model.json`` the architecture, the class names, the
encoders and the fitted tabular statistics, ``encoder_states.safetensors`` (when there is one) the
tensors of an encoder fitted on the train split (tfidf). It is what MLflow stores and what
predict loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from pipeline.atomic import read_json, write_json, write_with
from pipeline.errors import GraphFuseError
from pipeline.features.states import STATES_FILE, EncoderStates, load_states, save_states
from pipeline.formats import BUNDLE, check_format
from pipeline.models import FusionModelConfig, build_model, upgrade_state_dict

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
#: Version of the bundle layout; a bundle of another version is refused, not half-read.


@dataclass
class ModelBundle:
    config: FusionModelConfig
    classes: list[str]
    encoders: dict[str, dict[str, Any]]  # modality -> {"encoder": name, ...}; tabular adds its fitted "state"
    dataset_name: str
    state_dict: dict[str, Tensor]
    training: dict[str, Any] = field(default_factory=dict)
    knn: dict[str, Any] = field(default_factory=dict)  # build_graph's kNN settings: predict adds the same edges
    encoder_states: EncoderStates = field(default_factory=dict)  # modality -> fitted encoder tensors (tfidf)

    def build(self) -> nn.Module:
        model = build_model(self.config)
        model.load_state_dict(upgrade_state_dict(self.config, self.state_dict))
        return model.eval()


def save_bundle(out_dir: str | Path, bundle: ModelBundle) -> None:
    out_dir = Path(out_dir)
    tensors = {k: v.contiguous() for k, v in bundle.state_dict.items()}
    write_with(out_dir / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    save_states(out_dir / STATES_FILE, bundle.encoder_states)
    write_json(
        out_dir / CONFIG_FILE,
        {
            "format": BUNDLE,
            "config": bundle.config.model_dump(),
            "classes": bundle.classes,
            "encoders": bundle.encoders,
            "dataset_name": bundle.dataset_name,
            "training": bundle.training,
            "knn": bundle.knn,
        },
    )


def load_bundle(bundle_dir: str | Path) -> ModelBundle:
    bundle_dir = Path(bundle_dir)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (bundle_dir / name).is_file():
            raise GraphFuseError(f"{bundle_dir / name}: not found; is this a GraphFuse model folder?")
    meta = read_json(bundle_dir / CONFIG_FILE)
    check_format(bundle_dir / CONFIG_FILE, meta.get("format"), BUNDLE, "the train stage")
    try:
        config = FusionModelConfig(**meta["config"])
    except ValidationError as exc:
        raise GraphFuseError(
            f"{bundle_dir / CONFIG_FILE}: a model this version of GraphFuse cannot build "
            f"(written by a newer one, or edited by hand):\n{exc}"
        ) from exc
    return ModelBundle(
        config=config,
        classes=list(meta["classes"]),
        encoders=dict(meta["encoders"]),
        dataset_name=meta["dataset_name"],
        state_dict=load_file(str(bundle_dir / WEIGHTS_FILE)),
        training=dict(meta.get("training", {})),
        knn=dict(meta.get("knn", {})),
        encoder_states=load_states(bundle_dir / STATES_FILE),
    )

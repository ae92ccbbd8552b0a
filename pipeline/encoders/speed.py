"""Making a pretrained CNN run at the speed of its arithmetic on a CPU.

Why image batch 32 ran at 0.63x the speed of batch 1 here (profiled with torch.profiler):
1. Thread oversubscription. Torch's OpenMP pool takes every core, and on a busy 2-core machine
   (other processes, PIL decoding) each of the ~250 ops in a forward waits at an OpenMP barrier for
   a thread the OS has not scheduled: batch-norm and clamp ops on tiny tensors took ~15 ms each.
   :func:`sensible_threads` gives torch the cores minus the decoding workers (1 when oversubscribed).
2. Memory traffic. In NCHW a batch of 32 makes each early activation ~50 MB (32 x 32 ch x 112^2),
   far beyond the caches, and every unfused BatchNorm, ReLU6 and SAME-padding copy streams it
   through DRAM again; at batch 1 the same tensors sit in cache. :func:`fold_batchnorm` folds
   each eval-mode BatchNorm into the conv before it, :func:`fold_symmetric_padding` moves
   symmetric 'SAME' padding into the conv, and channels_last keeps depthwise convs contiguous.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def usable_cores() -> int:
    """Cores this process may run on (cgroup/affinity aware where Linux says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def sensible_threads(reserved: int = 0) -> int:
    """Torch intra-op threads: the cores left after ``reserved`` (decoding workers), and 1 when
    the machine is already oversubscribed (1-minute load above 1.5x the cores), where OpenMP
    barriers would otherwise wait for threads the OS has not scheduled."""
    cores = usable_cores()
    threads = max(1, cores - max(0, reserved))
    try:
        if os.getloadavg()[0] > 1.5 * cores:
            return 1
    except OSError:  # not available on this platform
        pass
    return threads


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every BatchNorm2d that directly follows a Conv2d among its siblings into that conv.

    Only valid in eval mode and only when the forward really calls them in that order; callers
    check the folded model against the original on an input (see :func:`fast_copy_checked`).
    Returns how many were folded.
    """
    folded = 0
    for parent in list(model.modules()):
        children = list(parent.named_children())
        for (conv_name, conv), (bn_name, bn) in zip(children, children[1:], strict=False):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Identity())
                folded += 1
    return folded


def fold_symmetric_padding(model: nn.Module) -> int:
    """Move a symmetric ``static_padding`` (ZeroPad2d) into the conv's own padding: one copy less."""
    moved = 0
    for module in model.modules():
        pad = getattr(module, "static_padding", None)
        if isinstance(module, nn.Conv2d) and isinstance(pad, nn.ZeroPad2d):
            left, right, top, bottom = pad.padding
            if left == right and top == bottom and module.padding == (0, 0):
                module.padding = (top, left)
                module.static_padding = nn.Identity()
                moved += 1
    return moved


def fast_copy_checked(model: nn.Module, forward_name: str, image_size: int) -> nn.Module:
    """The model with BN folded, padding moved and channels_last, if it computes the same thing.

    The rewrite is checked on a random batch against the original (tolerance 1e-3 relative);
    a model whose forward does not match its children's order keeps its original form.
    """
    import copy

    model = model.eval()
    fast = copy.deepcopy(model)
    fold_batchnorm(fast)
    fold_symmetric_padding(fast)
    fast = fast.to(memory_format=torch.channels_last)
    probe = torch.randn(2, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    probe = probe.to(next(model.parameters()).device)
    with torch.inference_mode():
        want = getattr(model, forward_name)(probe)
        got = getattr(fast, forward_name)(probe.contiguous(memory_format=torch.channels_last))
    scale = float(want.abs().max()) or 1.0
    if got.shape == want.shape and float((got - want).abs().max()) <= 1e-3 * scale:
        return fast
    return model


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Torch intra-op threads for a block, restored after, so decoding workers get their cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, count))
    try:
        yield
    finally:
        torch.set_num_threads(before)

"""Image models of the real-data studies (core paper Section 3.2), trained from scratch.

Both models return `(regression, class_logits | None)` like `regcls.models.mlp.MLP`; the class head
exists only when `num_classes > 0` and serves the training loss only (Eq. 4).

- `ResNetRegressor`: torchvision ResNet-50 (IMDB-WIKI-DIR, Yang et al.) or ResNet-18, built with
  `weights=None`; regression head F -> 1 and classification head [F, C] on the pooled features.
- `DepthEncoderDecoder`: Hu et al. 2019's ResNet-based depth network as in Yang et al.'s
  NYUD2-DIR code: encoder (ResNet blocks 1-4), decoder D (1x1 conv + four up-projections),
  multi-scale feature fusion MFF (up-projections of every block to 16 channels, fused by a 5x5
  conv), refinement R (two 5x5 convs on [D, MFF], then a 5x5 conv to depth). The depth map is
  at half the input resolution. The per-pixel class head is Mask R-CNN's mask head (2x2
  transposed conv stride 2, ReLU, 1x1 conv to C) on the decoder features [D, MFF] that R
  refines, so its logits are at the input resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DEPTHS = (18, 50)


class ResNetRegressor(nn.Module):
    """ResNet-`depth` trunk, regression head F -> 1, optional class head F -> C."""

    def __init__(self, depth: int = 50, num_classes: int = 0) -> None:
        super().__init__()
        trunk = _resnet(depth, num_classes)
        features = trunk.fc.in_features
        trunk.fc = nn.Identity()
        self.trunk = trunk
        self.reg = nn.Linear(features, 1)
        self.cls = nn.Linear(features, num_classes) if num_classes else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.trunk(x)
        return self.reg(h)[:, 0], (self.cls(h) if self.cls is not None else None)


class DepthEncoderDecoder(nn.Module):
    """Hu et al. 2019 encoder-decoder; forward -> (depth [B, H/2, W/2], logits [B, C, H, W])."""

    def __init__(self, depth: int = 50, num_classes: int = 0) -> None:
        super().__init__()
        trunk = _resnet(depth, num_classes)
        self.encoder = nn.ModuleDict(
            {
                "stem": nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool),
                "layer1": trunk.layer1,
                "layer2": trunk.layer2,
                "layer3": trunk.layer3,
                "layer4": trunk.layer4,
            }
        )
        blocks = [c * (4 if depth == 50 else 1) for c in (64, 128, 256, 512)]
        top = blocks[3]
        self.decoder_in = nn.Sequential(
            nn.Conv2d(top, top // 2, 1, bias=False), nn.BatchNorm2d(top // 2), nn.ReLU(True)
        )
        self.decoder_up = nn.ModuleList(
            _UpProjection(top // 2**i, top // 2 ** (i + 1)) for i in range(1, 5)
        )
        self.mff_up = nn.ModuleList(_UpProjection(c, 16) for c in blocks)
        self.mff_fuse = nn.Sequential(
            nn.Conv2d(64, 64, 5, padding=2, bias=False), nn.BatchNorm2d(64), nn.ReLU(True)
        )
        width = 64 + top // 32  # D's output (top / 32 channels) beside MFF's 64
        self.refine = nn.Sequential(
            nn.Conv2d(width, width, 5, padding=2, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
            nn.Conv2d(width, width, 5, padding=2, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        )
        self.reg = nn.Conv2d(width, 1, 5, padding=2)
        self.cls = (
            nn.Sequential(
                nn.ConvTranspose2d(width, width, 2, stride=2),
                nn.ReLU(True),
                nn.Conv2d(width, num_classes, 1),
            )
            if num_classes
            else None
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.encoder["stem"](x)
        b1 = self.encoder["layer1"](h)
        b2 = self.encoder["layer2"](b1)
        b3 = self.encoder["layer3"](b2)
        b4 = self.encoder["layer4"](b3)
        out_size = (b1.shape[2] * 2, b1.shape[3] * 2)
        d = self.decoder_in(b4)
        sizes = (tuple(b3.shape[2:]), tuple(b2.shape[2:]), tuple(b1.shape[2:]), out_size)
        for up, size in zip(self.decoder_up, sizes, strict=True):
            d = up(d, size)
        blocks = (b1, b2, b3, b4)
        fused = torch.cat([up(b, out_size) for up, b in zip(self.mff_up, blocks, strict=True)], 1)
        features = torch.cat([d, self.mff_fuse(fused)], 1)
        depth = self.reg(self.refine(features))[:, 0]
        return depth, (self.cls(features) if self.cls is not None else None)


class _UpProjection(nn.Module):
    """Hu et al.'s up-projection: bilinear resize, then (5x5-3x3 branch) + (5x5 branch), ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 5, padding=2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 5, padding=2, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return F.relu(self.branch1(x) + self.branch2(x))


def _resnet(depth: int, num_classes: int) -> nn.Module:
    from torchvision.models import resnet18, resnet50

    if depth not in DEPTHS:
        raise ValueError(f"depth: must be one of {DEPTHS}, got {depth!r}")
    if isinstance(num_classes, bool) or num_classes < 0:
        raise ValueError(
            f"num_classes: must be an integer >= 0 (0 = no class head), got {num_classes!r}"
        )
    # weights=None: trained from scratch (Yang et al.), and nothing may be downloaded.
    return (resnet50 if depth == 50 else resnet18)(weights=None)

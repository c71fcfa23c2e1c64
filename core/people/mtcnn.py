"""MTCNN face detection (Zhang et al., 2016): three small cascaded networks, written here.

The architecture is the one published in the paper: a fully convolutional proposal network
(P-Net) run over an image pyramid, a refinement network (R-Net) on 24-pixel crops and an output
network (O-Net) on 48-pixel crops, each giving a face probability and a bounding-box regression.
Only the weight tensors come from elsewhere: the ``pnet.pt``, ``rnet.pt`` and ``onet.pt`` state
dicts of the PyPI package ``facenet-pytorch`` 2.6.0 (MIT), shipped in ``assets/mtcnn`` and
loaded by tensor name with ``weights_only=True``.

This module imports torch; :mod:`core.people.faces` imports it only when a detector is loaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F
from torchvision.ops import roi_align

#: Weight files and how many tensors each must hold.
WEIGHT_FILES = {"pnet": ("pnet.pt", 13), "rnet": ("rnet.pt", 16), "onet": ("onet.pt", 21)}

_CELL = 12  # P-Net's receptive field
_STRIDE = 2  # P-Net's output stride


class PNet(nn.Module):
    """Proposal network: 12x12 windows -> face probability and box offsets, convolutionally."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return F.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


def _flatten(x: torch.Tensor) -> torch.Tensor:
    # The dense layers were trained on maps flattened width-major (W, H, C).
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class RNet(nn.Module):
    """Refinement network on 24x24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu4(self.dense4(_flatten(self.prelu3(self.conv3(x)))))
        return F.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output network on 48x48 crops (its landmark branch is loaded but not used)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu5(self.dense5(_flatten(self.prelu4(self.conv4(x)))))
        return F.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x)


def load_nets(folder: Path) -> tuple[PNet, RNet, ONet]:
    """The three networks with their weights from ``folder`` (strict, tensors only).

    Raises:
        OSError: a weight file is missing or unreadable.
        RuntimeError, ValueError: a file is not a plain state dict of the expected tensors.
    """
    nets: list[nn.Module] = []
    for net, (name, (filename, count)) in zip(
        (PNet(), RNet(), ONet()), WEIGHT_FILES.items(), strict=True
    ):
        state = torch.load(Path(folder) / filename, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or len(state) != count:
            raise ValueError(f"{filename} is not the expected {name} state dict")
        net.load_state_dict(state, strict=True)
        # channels_last: CPU max-pooling of these thin maps is several times faster in it.
        nets.append(net.eval().to(memory_format=torch.channels_last))
    return nets[0], nets[1], nets[2]  # type: ignore[return-value]


@dataclass(frozen=True)
class Stages:
    """The cascade's settings: smallest face (pixels), pyramid factor, per-stage thresholds."""

    min_face: int = 20
    factor: float = 0.709
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    work_side: int = 320


def detect(nets: tuple[PNet, RNet, ONet], image: Image.Image, stages: Stages) -> np.ndarray:
    """Faces in an RGB image as rows ``(x1, y1, x2, y2, probability)`` in its pixels."""
    pnet, rnet, onet = nets
    image = image.convert("RGB") if image.mode != "RGB" else image
    shrink = min(1.0, stages.work_side / min(image.size))
    if shrink < 1.0:
        image = image.resize(
            (round(image.width * shrink), round(image.height * shrink)), Image.Resampling.BILINEAR
        )
    with torch.inference_mode():
        boxes = _propose(pnet, image, stages)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
        if len(boxes):
            boxes = _refine(rnet, pixels, boxes, 24, stages.thresholds[1], 0.7, "union")
        if len(boxes):
            boxes = _refine(onet, pixels, boxes, 48, stages.thresholds[2], 0.7, "min", square=False)
    if not len(boxes):
        return np.zeros((0, 5), np.float32)
    boxes = boxes[:, :5].copy()
    boxes[:, :4] /= shrink
    return boxes


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - 127.5) * 0.0078125


def _scales(height: int, width: int, stages: Stages) -> list[float]:
    scale = _CELL / stages.min_face
    shorter = min(height, width) * scale
    out = []
    while shorter >= _CELL:
        out.append(scale)
        scale *= stages.factor
        shorter *= stages.factor
    return out


def _tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) or (H, W, 3) pixels as the networks' normalised NCHW input."""
    batch = torch.from_numpy(np.asarray(pixels, dtype=np.float32))
    batch = batch.unsqueeze(0) if batch.ndim == 3 else batch
    return _normalise(batch.permute(0, 3, 1, 2)).contiguous(memory_format=torch.channels_last)


def _propose(pnet: PNet, image: Image.Image, stages: Stages) -> np.ndarray:
    """P-Net over the pyramid: candidate squares (x1, y1, x2, y2, p, dx1, dy1, dx2, dy2)."""
    width, height = image.size
    found = []
    level = image
    for scale in _scales(height, width, stages):
        size = (math.ceil(width * scale), math.ceil(height * scale))
        level = level.resize(size, Image.Resampling.BILINEAR)  # each level from the last one
        probs, offsets = pnet(_tensor(np.asarray(level)))
        probs, offsets = probs[0].numpy(), offsets[0].numpy()
        ys, xs = np.nonzero(probs >= stages.thresholds[0])
        if not len(ys):
            continue
        x1 = np.floor((_STRIDE * xs + 1) / scale)
        y1 = np.floor((_STRIDE * ys + 1) / scale)
        x2 = np.floor((_STRIDE * xs + _CELL) / scale)
        y2 = np.floor((_STRIDE * ys + _CELL) / scale)
        rows = np.column_stack([x1, y1, x2, y2, probs[ys, xs], offsets[:, ys, xs].T])
        found.append(rows[nms(rows, 0.5, "union")])
    if not found:
        return np.zeros((0, 9), np.float32)
    boxes = np.concatenate(found)
    boxes = boxes[nms(boxes, 0.7, "union")]
    return _square(_regress(boxes))


def _refine(
    net: nn.Module,
    pixels: torch.Tensor,
    boxes: np.ndarray,
    side: int,
    threshold: float,
    overlap: float,
    mode: str,
    *,
    square: bool = True,
) -> np.ndarray:
    """Score crops of the candidates with R-Net or O-Net; keep, regress and merge the faces."""
    rois = torch.from_numpy(np.column_stack([np.zeros(len(boxes)), boxes[:, :4]])).float()
    crops = roi_align(
        pixels, rois, output_size=side, spatial_scale=1.0, sampling_ratio=2, aligned=True
    )
    probs, offsets = net(_normalise(crops).contiguous(memory_format=torch.channels_last))
    keep = probs.numpy() >= threshold
    if not keep.any():
        return np.zeros((0, 9), np.float32)
    rows = np.column_stack([boxes[keep, :4], probs.numpy()[keep], offsets.numpy()[keep]])
    if mode == "union":
        rows = rows[nms(rows, overlap, mode)]
        rows = _regress(rows)
    else:
        rows = _regress(rows)
        rows = rows[nms(rows, overlap, mode)]
    return _square(rows) if square else rows


def _regress(rows: np.ndarray) -> np.ndarray:
    """Apply the predicted offsets (fractions of the box size) to the box corners."""
    out = rows.copy()
    width = rows[:, 2] - rows[:, 0] + 1
    height = rows[:, 3] - rows[:, 1] + 1
    out[:, 0] += rows[:, 5] * width
    out[:, 1] += rows[:, 6] * height
    out[:, 2] += rows[:, 7] * width
    out[:, 3] += rows[:, 8] * height
    return out


def _square(rows: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (whole pixels)."""
    out = rows.copy()
    width = rows[:, 2] - rows[:, 0]
    height = rows[:, 3] - rows[:, 1]
    side = np.maximum(width, height)
    out[:, 0] = np.floor(rows[:, 0] + width * 0.5 - side * 0.5)
    out[:, 1] = np.floor(rows[:, 1] + height * 0.5 - side * 0.5)
    out[:, 2] = out[:, 0] + np.floor(side)
    out[:, 3] = out[:, 1] + np.floor(side)
    return out


def nms(
    rows: np.ndarray | Sequence[Sequence[float]], overlap: float, mode: str = "union"
) -> np.ndarray:
    """Greedy non-maximum suppression; indices of the kept rows, best first.

    ``mode`` "union" divides the intersection by the union; "min" by the smaller box.
    """
    rows = np.asarray(rows, dtype=np.float64)
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2, score = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-score, kind="stable")
    keep = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(best)
        inter = np.clip(
            np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1, 0, None
        ) * np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1, 0, None)
        if mode == "min":
            ratio = inter / np.minimum(area[best], area[rest])
        else:
            ratio = inter / (area[best] + area[rest] - inter)
        order = rest[ratio <= overlap]
    return np.asarray(keep, dtype=np.int64)

"""The tagger: a timm backbone that turns photos into pooled features, and heads that score labels.

``Backbone`` owns the network and its input transform (``core.model.preprocess``, from timm's
data config). A head turns pooled features into one score per album label: ``PriorHead`` (model
version 0) sums the ImageNet classifier's softmax over the classes each label covers;
``LinearHead`` (version >= 1) is a trained sigmoid layer; the kinds the album serves are listed in
``core.model.heads``. ``Tagger`` joins the two, so a batch of photos yields features (cached by
the store) and scores in one forward pass, and cached features can be re-scored later without
decoding a photo.

Everything runs under ``torch.inference_mode``; on a GPU the backbone runs in channels_last with
bf16/fp16 autocast and pinned-memory, non-blocking input copies. Nothing here imports Qt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch

from core.errors import ModelLoadError
from core.model.appearance import Appearance
from core.model.heads import LINEAR, LINEAR_HEAD_FORMAT, PRIOR
from core.model.patches import Patches
from core.model.preprocess import Preprocessing
from core.model.regions import Regions, calibrate
from core.model.starter import Starter
from core.model.weights import DEFAULT_BACKBONE, load_backbone_module

logger = logging.getLogger(__name__)


def pick_device(preference: str = "auto") -> torch.device:
    """Where the model runs: ``"auto"`` (CUDA, then Apple MPS, then CPU) or a torch device name.

    Raises:
        ModelLoadError: The preference is not a device name, or names one this machine lacks.
    """
    pref = preference.strip().lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(pref)
    except (RuntimeError, ValueError) as exc:
        raise ModelLoadError(f"unknown device {preference!r}") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelLoadError("device 'cuda' was asked for but CUDA is not available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ModelLoadError(f"device {preference!r} does not exist")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError("device 'mps' was asked for but MPS is not available")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ModelLoadError(f"unsupported device {preference!r}")
    return device


class Backbone:
    """A timm network that maps uint8 photo crops to pooled features and ImageNet logits.

    Attributes:
        name: The timm architecture.
        id: ``"<name>@<first 12 hex of the weights' sha256>"``; cached features are only
            valid for the backbone with the same id.
        feature_dim: Length of a pooled feature vector.
        num_classes: Classes of the model's own classifier (1000 for ImageNet, 0 if headless).
        middle_dim: Channels of its last-but-one stage (``features_map_middle``), 0 when the
            network has no ``blocks`` sequence to take it from.
        preprocessing: Its input transform from the data config (``core.model.preprocess``):
            the indexer and the trainer make the crops with it, ``features`` normalises them.
        input_size: Height (= width) of the square crop the model expects.
        crop_pct: Fraction of the resized shorter side kept by the centre crop.
        interpolation: Resampling used when resizing (``"bicubic"``...).
        device: Where the model runs.
        channels_last: Whether inputs and weights use the channels_last memory format.
        data_config: The full data config from ``core.model.weights.load_backbone_module``.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        data_config: dict[str, Any],
        name: str,
        device: torch.device,
        channels_last: bool = True,
    ) -> None:
        """Wrap an already loaded model; most callers want ``Backbone.load``.

        Raises:
            ModelLoadError: The data config describes an input the album cannot make.
        """
        self.name = name
        self.data_config = dict(data_config)
        self.id = f"{name}@{str(data_config['weights_sha256'])[:12]}"
        self.device = device
        self.channels_last = channels_last
        self.preprocessing = Preprocessing.from_data_config(data_config)
        self.input_size = self.preprocessing.size
        self.crop_pct = self.preprocessing.crop_pct
        self.interpolation = self.preprocessing.interpolation
        self.num_classes = int(getattr(model, "num_classes", 0) or 0)
        hidden = getattr(model, "head_hidden_size", None)
        # num_features: timm's int, which nn.Module's stubs can only type as Tensor | Module
        self.feature_dim = int(hidden or cast(int, model.num_features))
        self._local = threading.local()  # the middle stage's output, per calling thread
        self.middle_dim = self._watch_middle(model)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        # torch's stubs have no to(device, memory_format=) overload, which torch accepts
        self.model = (
            model.eval()
            .requires_grad_(False)
            .to(  # type: ignore[call-overload]
                device, memory_format=fmt
            )
        )

    @classmethod
    def load(
        cls,
        name: str = DEFAULT_BACKBONE,
        checkpoint: Path | None = None,
        device: str = "auto",
        channels_last: bool = True,
    ) -> Backbone:
        """Load a backbone from local weights (see ``core.model.weights.load_backbone_module``).

        ``checkpoint`` is None for the default backbone's bundled weights; ``device`` goes to
        ``pick_device``; ``channels_last`` is faster on CPU and GPU alike.

        Raises:
            ModelLoadError: The weights or the device cannot be used.
        """
        target = pick_device(device)
        model, config = load_backbone_module(name, checkpoint)
        backbone = cls(model, config, name, target, channels_last=channels_last)
        logger.info(
            "backbone %s on %s (features %d, classes %d)",
            backbone.id,
            target,
            backbone.feature_dim,
            backbone.num_classes,
        )
        return backbone

    def features(self, batch: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Pooled pre-logit features of a batch of crops.

        Args:
            batch: uint8 array or tensor (B, 3, H, W), RGB, already resized and cropped to
                ``input_size`` (``core.media.imaging`` produces it).

        Returns:
            float32 tensor (B, feature_dim) on ``device`` (an inference tensor).

        Raises:
            TypeError: ``batch`` is not uint8.
            ValueError: ``batch`` has the wrong shape.
        """
        return self.features_and_map(batch)[0]

    def features_and_map(
        self, batch: np.ndarray | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled features (B, feature_dim) and the last feature map (B, C, h, w), float32.

        Raises:
            TypeError: ``batch`` is not uint8.
            ValueError: ``batch`` has the wrong shape.
        """
        x = self.to_device(batch)
        if x.shape[0] == 0:
            empty = torch.zeros((0, self.feature_dim), dtype=torch.float32, device=self.device)
            return empty, torch.zeros((0, self.feature_dim, 1, 1), device=self.device)
        with torch.inference_mode():
            if self.channels_last:  # reorder the uint8 bytes; float() then keeps the layout
                x = x.contiguous(memory_format=torch.channels_last)
            x = self.preprocessing.normalise(x)
            with self._autocast():
                feature_map = self.model.forward_features(x)
                pooled = self.model.forward_head(feature_map, pre_logits=True)
            return pooled.float(), feature_map.float()

    def features_map_middle(
        self, batch: np.ndarray | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``features_and_map``, plus the last-but-one stage averaged over positions
        (B, middle_dim) from the same forward pass (None when ``middle_dim`` is 0)."""
        pooled, feature_map, middle = self.features_map_and_middle_map(batch)
        if middle is None:
            return pooled, feature_map, None
        return pooled, feature_map, middle.mean(dim=(2, 3))

    def middle_map(self, batch: np.ndarray | torch.Tensor) -> torch.Tensor | None:
        """The last-but-one stage at every position (B, middle_dim, h, w), float32; None when
        ``middle_dim`` is 0 (``benchmarks/bench_patch_prototypes.py`` reads it)."""
        return self.features_map_and_middle_map(batch)[2]

    def features_map_and_middle_map(
        self, batch: np.ndarray | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``features_and_map`` and the last-but-one stage at every position (float32,
        None when ``middle_dim`` is 0) of one pass."""
        self._local.middle = None
        self._local.wanted = self.middle_dim > 0
        try:
            pooled, feature_map = self.features_and_map(batch)
            middle = self._local.middle
        finally:
            self._local.wanted = False
            self._local.middle = None
        return pooled, feature_map, None if middle is None else middle.float()

    def _watch_middle(self, model: torch.nn.Module) -> int:
        """Keep the last-but-one block's output when ``features_map_middle`` asks; its channels."""
        blocks = getattr(model, "blocks", None)
        if not isinstance(blocks, torch.nn.Sequential) or len(blocks) < 3:
            return 0
        convs = [m for m in blocks[-2].modules() if isinstance(m, torch.nn.Conv2d)]
        if not convs:
            return 0
        local = self._local

        def keep(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if getattr(local, "wanted", False):
                local.middle = output

        blocks[-2].register_forward_hook(keep)
        return int(convs[-1].out_channels)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes), float32 on ``device``, from pooled features (B, feature_dim).

        Raises:
            ModelLoadError: The backbone has no classifier.
        """
        if self.num_classes <= 0:
            raise ModelLoadError(f"backbone {self.id} has no classifier")
        with torch.inference_mode():
            x = features.to(self.device, dtype=torch.float32, non_blocking=True)
            logits: torch.Tensor = self.model.get_classifier()(x).float()
            return logits

    def to_device(self, batch: np.ndarray | torch.Tensor) -> torch.Tensor:
        """A uint8 batch (B, 3, side, side) as a tensor on the model's device (pinned and
        copied without blocking on a GPU; a tensor already there is returned as it is).

        Raises:
            TypeError: ``batch`` is not uint8, or neither an array nor a tensor.
            ValueError: ``batch`` has the wrong shape.
        """
        if isinstance(batch, np.ndarray):
            if batch.dtype != np.uint8:
                raise TypeError(f"expected a uint8 batch, got {batch.dtype}")
            if not batch.flags.writeable or not batch.flags.c_contiguous:
                batch = np.array(batch, copy=True, order="C")
            tensor = torch.from_numpy(batch)
        elif isinstance(batch, torch.Tensor):
            if batch.dtype != torch.uint8:
                raise TypeError(f"expected a uint8 batch, got {batch.dtype}")
            tensor = batch
        else:
            raise TypeError(f"expected a numpy array or torch tensor, got {type(batch).__name__}")
        side = self.input_size
        if tensor.ndim != 4 or tensor.shape[1] != 3 or tuple(tensor.shape[2:]) != (side, side):
            raise ValueError(
                f"expected a batch of shape (B, 3, {side}, {side}), got {tuple(tensor.shape)}"
            )
        if self.device.type == "cuda" and tensor.device.type == "cpu":
            tensor = tensor.pin_memory()
            return tensor.to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.autocast("cuda", dtype=dtype)
        if self.device.type == "mps":
            return torch.autocast("mps", dtype=torch.float16)
        return contextlib.nullcontext()


def _label_tuple(label_names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(label_names)
    if not all(isinstance(n, str) and n for n in names):
        raise ValueError("label names must be non-empty strings")
    if len(set(names)) != len(names):
        raise ValueError("label names must be unique")
    return names


class _DeviceCache:
    """Copies of a few CPU tensors, made once per device."""

    def __init__(self, **tensors: torch.Tensor) -> None:
        self._cpu = tensors
        self._copies: dict[torch.device, dict[str, torch.Tensor]] = {}

    def on(self, device: torch.device) -> dict[str, torch.Tensor]:
        if device not in self._copies:
            self._copies[device] = {k: v.to(device) for k, v in self._cpu.items()}
        return self._copies[device]


class PriorHead:
    """Model version 0: a label's score is the ImageNet softmax mass of the classes under it.

    Because a parent's membership column covers its children's classes, a parent never scores
    below a child. With ``regional`` (the default) the head also reads the regional evidence
    that ``Tagger.run`` caches after the pooled features (``core.model.regions``) and keeps, per
    label, the larger of the global score and the calibrated regional one: a second object or
    the scene around the main subject can then be tagged too. No training is needed.
    """

    kind = PRIOR  # its kind in ``core.model.heads``

    def __init__(
        self,
        label_names: Sequence[str],
        membership: np.ndarray,
        regional: bool = True,
        starter: Starter | None = None,
        appearance: bool = True,
    ) -> None:
        """Build the head from the vocabulary's class-to-label membership.

        Args:
            label_names: The album labels, one per membership column.
            membership: float32 (num_classes, L), 1 where a class lies in a label's subtree.
            regional: Also score labels from regional evidence (``core.model.regions``), for the
                labels some class feeds.
            starter: A correction fitted on labelled photos (``core.model.starter``) for some of
                ``label_names``; it applies on top of the ImageNet scores.
            appearance: Have the album's descriptors carry the appearance descriptor
                (``core.model.appearance``) for the trained head's prototypes; this head
                itself does not read it.

        Raises:
            ValueError: Shapes disagree, names repeat, or values are outside [0, 1].
        """
        self.label_names = _label_tuple(label_names)
        matrix = np.asarray(membership, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.label_names):
            raise ValueError(
                f"membership must be (num_classes, {len(self.label_names)}), got {matrix.shape}"
            )
        if not np.all(np.isfinite(matrix)) or np.any((matrix < 0) | (matrix > 1)):
            raise ValueError("membership values must lie in [0, 1]")
        self.num_classes = int(matrix.shape[0])
        fed = np.flatnonzero(matrix.sum(axis=0) > 0)
        self._fed = torch.from_numpy(fed)
        self.regions = (
            Regions([self.label_names[i] for i in fed], matrix[:, fed]) if regional else None
        )
        self.starter = starter
        self.appearance = appearance
        if starter is not None and starter.terms is not None and not appearance:
            raise ValueError("the starter reads the appearance descriptor, which this head lacks")
        if starter is not None:
            index = {n: i for i, n in enumerate(self.label_names)}
            missing = [n for n in starter.labels if n not in index]
            if missing:
                raise ValueError(f"starter labels missing from the head: {missing[:3]}")
            self._starter_columns = torch.tensor([index[n] for n in starter.labels])
        self._tensors = _DeviceCache(membership=torch.from_numpy(matrix.copy()))

    def check(self, backbone: Backbone, feature_key: str | None = None) -> None:
        """Raise ModelLoadError unless ``backbone``'s classifier has this head's classes (the
        prior reads any descriptor layout of that backbone, so ``feature_key`` is not needed)."""
        if backbone.num_classes != self.num_classes:
            raise ModelLoadError(
                f"prior head covers {self.num_classes} classes, backbone {backbone.id} "
                f"has {backbone.num_classes}"
            )

    def scores(self, backbone: Backbone, features: torch.Tensor) -> torch.Tensor:
        """Scores (B, L) in [0, 1] from cached descriptors (pooled features [+ regions])."""
        self.check(backbone)
        with torch.inference_mode():
            pooled = features[:, : backbone.feature_dim]
            probs = torch.softmax(backbone.classify(pooled), dim=1)
            membership = self._tensors.on(probs.device)["membership"]
            scores = (probs @ membership).clamp_(0.0, 1.0)
            end = self.appearance_start(backbone)  # where the regional evidence ends
            if self.regions is not None and features.shape[1] >= end:
                regional = features[:, backbone.feature_dim : end].to(scores.device, torch.float32)
                fed = self._fed.to(scores.device)
                scores[:, fed] = torch.maximum(scores[:, fed], calibrate(regional))
            if self.starter is not None and self.starter.backbone == backbone.id:
                scores = self.starter.apply(
                    scores, features, self._starter_columns.to(scores.device), backbone, end
                )
            return scores

    def appearance_start(self, backbone: Backbone) -> int:
        """Where the appearance descriptor begins in the descriptors this head's album caches:
        after the pooled features and the regional evidence."""
        return backbone.feature_dim + (self.regions.width if self.regions else 0)


class LinearHead:
    """Model version >= 1: ``sigmoid(features @ weight.T + bias)``, trained on cached features."""

    kind = LINEAR  # its kind in ``core.model.heads``

    def __init__(
        self,
        label_names: Sequence[str],
        weight: torch.Tensor,
        bias: torch.Tensor,
        backbone_id: str,
    ) -> None:
        """Wrap trained parameters (copied to float32 on the CPU).

        Args:
            label_names: One name per output row.
            weight: (L, feature_dim).
            bias: (L,).
            backbone_id: ``Backbone.id`` of the backbone whose features it was trained on.

        Raises:
            ValueError: Shapes or names disagree.
        """
        self.label_names = _label_tuple(label_names)
        count = len(self.label_names)
        if weight.ndim != 2 or weight.shape[0] != count:
            raise ValueError(f"weight must be ({count}, feature_dim), got {tuple(weight.shape)}")
        if tuple(bias.shape) != (count,):
            raise ValueError(f"bias must be ({count},), got {tuple(bias.shape)}")
        if not weight.is_floating_point() or not bias.is_floating_point():
            raise ValueError("weight and bias must be floating point")
        if not backbone_id:
            raise ValueError("backbone_id must name the backbone the head was trained on")
        self.weight = weight.detach().to("cpu", torch.float32).contiguous().clone()
        self.bias = bias.detach().to("cpu", torch.float32).contiguous().clone()
        self.backbone_id = backbone_id
        self.feature_dim = int(self.weight.shape[1])
        self._tensors = _DeviceCache(weight=self.weight, bias=self.bias)

    @property
    def feature_key(self) -> str:
        """The descriptors it reads (``Tagger.feature_key``): the backbone's pooled features."""
        return self.backbone_id

    def check(self, backbone: Backbone, feature_key: str | None = None) -> None:
        """Raise ModelLoadError unless the head was trained on ``backbone``'s features."""
        key = feature_key or backbone.id
        if self.backbone_id != key:
            raise ModelLoadError(f"head was trained on {self.backbone_id}, not on {key}")
        if self.feature_dim != backbone.feature_dim:
            raise ModelLoadError(
                f"head expects {self.feature_dim} features, backbone gives {backbone.feature_dim}"
            )

    def scores(self, backbone: Backbone, features: torch.Tensor) -> torch.Tensor:
        """Scores (B, L) in [0, 1] from pooled features (``backbone`` gives the device)."""
        with torch.inference_mode():
            x = features[:, : self.feature_dim]
            x = x.to(backbone.device, dtype=torch.float32, non_blocking=True)
            params = self._tensors.on(x.device)
            return torch.sigmoid(torch.addmm(params["bias"], x, params["weight"].T))

    def save(self, path: Path) -> None:
        """Write the head as safetensors, atomically (a temp file, then ``os.replace``)."""
        import safetensors.torch

        path = Path(path)
        metadata = {
            "labels": json.dumps(list(self.label_names), ensure_ascii=False),
            "backbone": self.backbone_id,
            "format": LINEAR_HEAD_FORMAT,
        }
        data = safetensors.torch.save({"weight": self.weight, "bias": self.bias}, metadata)
        write_atomically(path, data)
        logger.info("saved linear head (%d labels) to %s", len(self.label_names), path)

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        """Read a head written by ``save``.

        Raises:
            ModelLoadError: Missing file, not safetensors, wrong format, metadata or shapes.
        """
        tensors, metadata = _read_safetensors(Path(path))
        if metadata.get("format") != LINEAR_HEAD_FORMAT:
            raise ModelLoadError(f"{path} is not an albumtag linear head ({LINEAR_HEAD_FORMAT})")
        if set(tensors) != {"weight", "bias"}:
            raise ModelLoadError(f"{path} must hold exactly 'weight' and 'bias'")
        try:
            labels = json.loads(metadata.get("labels", ""))
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{path}: labels metadata is not JSON") from exc
        if not isinstance(labels, list):
            raise ModelLoadError(f"{path}: labels metadata must be a list")
        weight, bias = tensors["weight"], tensors["bias"]
        try:
            head = cls(labels, weight, bias, metadata.get("backbone", ""))
        except ValueError as exc:
            raise ModelLoadError(f"{path}: {exc}") from exc
        if not (torch.isfinite(head.weight).all() and torch.isfinite(head.bias).all()):
            raise ModelLoadError(f"{path}: weights are not finite")
        return head


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a synced temp file and a rename: a reader sees the
    old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    import safetensors

    if not path.is_file():
        raise ModelLoadError(f"head file not found: {path}")
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
            names = handle.keys()  # a safetensors handle is not iterable
            tensors = {key: handle.get_tensor(key) for key in names}
    except Exception as exc:  # SafetensorError, OSError, ...
        raise ModelLoadError(f"{path} is not a valid safetensors file: {exc}") from exc
    return tensors, metadata


class Head(Protocol):
    """What a tagger needs of a head: its labels and scores from descriptors."""

    label_names: tuple[str, ...]

    def check(self, backbone: Backbone, feature_key: str | None = None) -> None: ...

    def scores(self, backbone: Backbone, features: torch.Tensor) -> torch.Tensor: ...


class Tagger:
    """A backbone plus a head: photos in, (descriptors, scores) out.

    A *descriptor* is what the store caches per photo: the pooled features, followed by the
    regional evidence (``core.model.regions``) when the head reads it, then the appearance
    descriptor (``core.model.appearance``) when the head keeps it, then the middle stage at a few
    positions (``core.model.patches``) when it keeps appearance and the backbone has a middle
    stage. ``feature_key`` names that layout; cached descriptors are valid only for the same key.
    """

    def __init__(self, backbone: Backbone, head: Head) -> None:
        """Join a backbone and a head that fit together.

        Raises:
            ModelLoadError: A trained head made on another backbone's descriptors, or a prior
                head built for another classifier.
        """
        self.regions: Regions | None = getattr(head, "regions", None)
        if self.regions is not None and backbone.num_classes <= 0:
            raise ModelLoadError(f"backbone {backbone.id} has no classifier for regions")
        self.appearance = (
            Appearance(backbone.middle_dim) if getattr(head, "appearance", False) else None
        )
        key = backbone.id if self.regions is None else f"{backbone.id}+{self.regions.key}"
        self.patches = (
            Patches(backbone.middle_dim)
            if self.appearance is not None and backbone.middle_dim > 0
            else None
        )
        if self.appearance is not None:
            key = f"{key}+{self.appearance.key}"
        self.feature_key = key if self.patches is None else f"{key}+{self.patches.key}"
        self.appearance_start = backbone.feature_dim + (self.regions.width if self.regions else 0)
        self.patches_start = self.appearance_start + (
            self.appearance.width if self.appearance else 0
        )
        self.feature_dim = self.patches_start + (self.patches.width if self.patches else 0)
        head.check(backbone, self.feature_key)
        self.backbone = backbone
        self.head = head
        self.label_names: tuple[str, ...] = head.label_names

    def describe(self, batch: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Descriptors (B, feature_dim) of uint8 crops (B, 3, H, W), on the model's device."""
        if self.regions is None and self.appearance is None:
            return self.backbone.features(batch)
        # one copy on the device, read by the model and the colour statistics alike
        crops = self.backbone.to_device(batch)
        pooled, feature_map, middle_map = self.backbone.features_map_and_middle_map(crops)
        parts = [pooled]
        with torch.inference_mode():
            if self.regions is not None:
                classifier = self.backbone.model.get_classifier()
                parts.append(self.regions.evidence(feature_map, classifier).to(pooled.dtype))
            if self.appearance is not None:
                middle = None if middle_map is None else middle_map.mean(dim=(2, 3))
                parts.append(self.appearance.describe(crops, middle).to(pooled.dtype))
            if self.patches is not None:
                parts.append(
                    torch.zeros(len(pooled), self.patches.width, device=pooled.device)
                    if middle_map is None or len(pooled) == 0
                    else self.patches.describe(middle_map).to(pooled.dtype)
                )
            return torch.cat(parts, dim=1)

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 descriptors (B, feature_dim) and scores (B, L) of uint8 crops (B, 3, H, W)."""
        with torch.inference_mode():
            features = self.describe(batch)
            scores = self.head.scores(self.backbone, features)
            return _numpy(features), _numpy(scores)

    def score_features(self, features: np.ndarray) -> np.ndarray:
        """Re-score cached descriptors (any float dtype) without touching a photo → (B, L)."""
        array = np.asarray(features, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != self.feature_dim:
            raise ValueError(f"expected features (B, {self.feature_dim}), got {array.shape}")
        with torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(array)).to(self.backbone.device)
            return _numpy(self.head.scores(self.backbone, tensor))


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu", torch.float32).numpy()

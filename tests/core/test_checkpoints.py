"""Hostile --checkpoint files: endless devices, pickles, relative paths (issue 16.10)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.db.store import Store
from core.errors import ModelLoadError
from core.model.versions import ModelChoice, stored_choice
from core.model.weights import MAX_CHECKPOINT_BYTES, load_backbone_module

torch = pytest.importorskip("torch")

TINY = "mobilenetv3_small_050"


class _Payload:
    def __reduce__(self) -> tuple:
        return (print, ("unpickled",))


def test_dev_zero_is_refused_at_once():
    with pytest.raises(ModelLoadError, match="it is not a regular file"):
        load_backbone_module(TINY, Path("/dev/zero"))


def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "weights.pth")
    with pytest.raises(ModelLoadError, match="it is not a regular file"):
        load_backbone_module(TINY, tmp_path / "weights.pth")


def test_a_file_over_the_cap_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.safetensors"
    with huge.open("wb") as file:  # sparse: no disk used
        file.truncate(MAX_CHECKPOINT_BYTES + 1)
    with pytest.raises(ModelLoadError, match="at most 4 GiB is read"):
        load_backbone_module(TINY, huge)


def test_the_pickle_refusal_is_one_line_that_never_suggests_weights_only_false(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"extra": _Payload()}, path)
    with pytest.raises(ModelLoadError) as info:
        load_backbone_module(TINY, path)
    message = str(info.value)
    assert "\n" not in message and "weights_only" not in message
    assert message.endswith(
        "it holds pickled Python objects, which albumtag never loads "
        "(save model.state_dict(), or use .safetensors)"
    )


def test_a_relative_checkpoint_is_remembered_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stored = json.loads(ModelChoice("resnet10t", "weights/w.safetensors").as_json())
    assert stored["checkpoint"] == str(tmp_path / "weights" / "w.safetensors")
    store = Store(tmp_path / "album.db")
    store.set_meta("model", ModelChoice("resnet10t", "~/w.pth").as_json())
    monkeypatch.chdir("/")
    assert stored_choice(store).checkpoint == os.path.expanduser("~/w.pth")
    store.close()


@pytest.mark.parametrize(
    "content",
    [b"\0" * 1000, bytes(range(256)) * 4, b"hello world\n" * 10, b"PK\x03\x04" + b"\0" * 100],
    ids=["zeros", "bytes", "text", "broken zip"],
)
def test_a_file_that_is_no_checkpoint_is_called_so_in_one_line(tmp_path, content):
    """Junk was reported as "holds pickled Python objects" (torch says "Weights only load
    failed" for any unreadable file) or as torch's bare KeyError ("(101)")."""
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError) as info:
        load_backbone_module(TINY, path)
    assert str(info.value) == (
        f"{path} is not a loadable weights file: neither a PyTorch state dict nor .safetensors"
    )

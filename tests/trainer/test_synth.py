"""The synthetic dataset generator: real photo cut-outs on real backgrounds, papers' format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer.papers.datasets import read_split
from trainer.papers.synth import SceneConfig, compose_scene, generate, main, split_instances
from trainer.papers.synth_sources import (
    Cutout,
    SourceError,
    fetch_debian,
    label_parents,
    pip_backgrounds,
    pip_cutouts,
    stamp_labels,
    tuxpaint_cutouts,
)


@pytest.fixture(scope="module")
def sources() -> tuple[list[Cutout], list[Image.Image]]:
    pytest.importorskip("skimage")
    try:
        return pip_cutouts(max_side=64), pip_backgrounds(max_side=96)
    except SourceError as exc:
        pytest.skip(str(exc))


def test_pip_source_gives_labelled_real_cutouts(sources: tuple[list[Cutout], list]) -> None:
    cutouts, backgrounds = sources
    names = {c.name for c in cutouts}
    assert "skimage/chelsea" in names and "foolbox/imagenet_00_243" in names
    chelsea = next(c for c in cutouts if c.name == "skimage/chelsea")
    assert chelsea.labels == ("animal", "cat")
    alpha = np.asarray(chelsea.image.getchannel("A"))
    assert alpha.max() == 255 and alpha.min() == 0  # a real cut-out, not a rectangle
    assert len(backgrounds) == 3 and all(b.mode == "RGB" for b in backgrounds)


def test_stamp_labels_follow_folders_and_skip_cartoons_and_symbols() -> None:
    assert stamp_labels("animals/birds/blackbird.png") == ("animal", "bird")
    assert stamp_labels("animals/mammals/bovines/bison.png") == ("animal", "mammal", "cattle")
    assert stamp_labels("animals/mammals/cats/lion.png") == ("animal", "mammal")
    assert stamp_labels("animals/insects/cartoon/bee.png") is None
    assert stamp_labels("symbols/alphabets/asl/asl_a.png") is None
    assert stamp_labels("unknown/thing.png") is None


def test_tuxpaint_loader_reads_alpha_stamps(tmp_path: Path) -> None:
    birds = tmp_path / "usr/share/tuxpaint/stamps/animals/birds"
    birds.mkdir(parents=True)
    stamp = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    stamp.paste((200, 10, 10, 255), (5, 5, 25, 20))
    stamp.save(birds / "robin.png")
    Image.new("RGBA", (20, 20), (9, 9, 9, 255)).save(birds / "opaque.png")  # not a cut-out
    (cut,) = tuxpaint_cutouts(tmp_path)
    assert (cut.name, cut.group, cut.labels) == (
        "animals/birds/robin",
        "animals/birds",
        ("animal", "bird"),
    )
    assert cut.image.size == (20, 15)  # trimmed to the visible pixels
    with pytest.raises(SourceError, match="stamps"):
        tuxpaint_cutouts(tmp_path / "empty")


def test_label_parents_come_from_label_chains() -> None:
    chains = [("animal", "mammal", "cattle"), ("animal", "bird"), ("tool",)]
    assert label_parents(chains) == {
        "animal": None,
        "mammal": "animal",
        "cattle": "mammal",
        "bird": "animal",
        "tool": None,
    }
    with pytest.raises(ValueError, match="two parents"):
        label_parents([("a", "b"), ("c", "b")])


def test_fetch_debian_uses_unpacked_cache_without_apt(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / ".unpacked-pkg-a").touch()
    assert fetch_debian(tmp_path, ("pkg-a",)) == root  # nothing to download


def test_instances_are_split_disjointly_within_big_groups() -> None:
    image = Image.new("RGBA", (4, 4))
    cuts = [Cutout(f"g/{i}", "g", ("x",), image) for i in range(10)]
    cuts += [Cutout("small/0", "small", ("y",), image)]
    train, test = split_instances(cuts, 0.3, np.random.default_rng(0))
    assert len([c for c in test if c.group == "g"]) == 3
    assert not {c.name for c in train if c.group == "g"} & {c.name for c in test}
    assert any(c.name == "small/0" for c in train) and any(c.name == "small/0" for c in test)


def test_scene_has_the_union_of_pasted_labels(sources: tuple[list[Cutout], list]) -> None:
    cutouts, backgrounds = sources
    config = SceneConfig(size=48, max_objects=3)
    image, labels = compose_scene(np.random.default_rng(3), cutouts, backgrounds, config)
    assert image.size == (48, 48)
    assert labels and labels <= {label for c in cutouts for label in c.labels}


def test_generate_writes_the_papers_format_reproducibly(
    tmp_path: Path, sources: tuple[list[Cutout], list]
) -> None:
    cutouts, backgrounds = sources
    kwargs = dict(n_train=24, n_test=12, name="Tiny", seed=5, config=SceneConfig(size=32))
    train, test = generate(tmp_path / "a", cutouts, backgrounds, **kwargs)
    assert read_split(tmp_path / "a" / "train.json") == train
    assert read_split(tmp_path / "a" / "test.json") == test
    assert train.labels == test.labels == tuple(sorted(train.labels))
    vocab = (tmp_path / "a" / "tiny_vocabulary.txt").read_text().splitlines()
    assert vocab == list(train.labels)
    for split in (train, test):
        for sample in split.samples:
            assert (tmp_path / "a" / "images" / sample.image_name).is_file()
    used = {label for s in train.samples + test.samples for label in s.labels}
    assert used == set(train.labels)  # every word occurs in both splits
    info = json.loads((tmp_path / "a" / "synth_info.json").read_text())
    assert info["images"] == {"train": 24, "test": 12}
    if "bird" in info["parents"]:
        assert info["parents"]["bird"] == "animal"
    assert set(info["parents"]) == set(train.labels)
    generate(tmp_path / "b", cutouts, backgrounds, **kwargs)
    first = (tmp_path / "a" / "images" / "train_00007.jpg").read_bytes()
    assert first == (tmp_path / "b" / "images" / "train_00007.jpg").read_bytes()


def test_command_line_generates_from_the_pip_source(tmp_path: Path, capsys) -> None:
    pytest.importorskip("skimage")
    args = [
        "--source",
        "pip",
        "--out",
        str(tmp_path / "d"),
        "--train",
        "8",
        "--test",
        "8",
        "--size",
        "32",
        "--seed",
        "1",
    ]
    try:
        assert main(args) == 0
    except SourceError as exc:
        pytest.skip(str(exc))
    assert "8 train, 8 test" in capsys.readouterr().out
    assert (tmp_path / "d" / "train.json").is_file()

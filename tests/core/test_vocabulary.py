"""The label vocabulary: the shipped files, the tree API, validation, search helpers."""

from __future__ import annotations

import csv
import importlib.util
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import VocabularyError
from core.labels.vocabulary import (
    IMAGENET_MAP_FILE,
    VOCABULARY_FILE,
    Label,
    Vocabulary,
    read_imagenet_map,
)
from core.resources import assets_dir


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load()


@pytest.fixture
def small() -> Vocabulary:
    labels = [
        Label("animal", aliases=("animals",), threshold=0.5),
        Label("dog", "animal", ("dogs", "puppy"), 0.4),
        Label("poodle", "dog", ("poodles",), 0.3),
        Label("cat", "animal", ("kitten", "kitty"), 0.3),
        Label("object", threshold=0.5),
        Label("cup", "object", ("mug",), 0.3),
    ]
    return Vocabulary(labels, ["poodle", "dog", None, "cat", "cup", "animal"])


def timm_imagenet_classes() -> list[tuple[str, str]]:
    """timm's (wnid, description) list, read from its data files without importing torch."""
    spec = importlib.util.find_spec("timm")
    if spec is None or spec.origin is None:
        pytest.skip("timm is not installed")
    info = Path(spec.origin).parent / "data" / "_info"
    wnids = (info / "imagenet_synsets.txt").read_text(encoding="utf-8").split()
    with (info / "imagenet_synset_to_lemma.txt").open(encoding="utf-8") as handle:
        lemmas = dict(csv.reader(handle, delimiter="\t"))
    return [(wnid, lemmas[wnid]) for wnid in wnids]


# ----------------------------------------------------------------------- the shipped vocabulary


def test_shipped_vocabulary_size_and_roots(vocab: Vocabulary) -> None:
    assert len(vocab) >= 150
    assert 1 <= len(vocab.roots()) <= 14
    assert {"animal", "plant", "food and drink", "vehicle", "landscape", "people"} <= set(
        vocab.roots()
    )
    for label in vocab:
        assert label.kind == "builtin"
        assert label.name == label.name.lower() == " ".join(label.name.split())
        assert 0.0 < label.threshold < 1.0


def test_every_root_has_children_and_most_labels_have_aliases(vocab: Vocabulary) -> None:
    for root in vocab.roots():
        if root not in ("indoor", "outdoor"):  # where a photo was taken: no kinds below
            assert vocab.children(root), f"root {root!r} has no children"
    with_aliases = sum(1 for label in vocab if label.aliases)
    assert with_aliases >= 0.9 * len(vocab)


def test_default_thresholds_follow_the_role_in_the_tree(vocab: Vocabulary) -> None:
    assert vocab["animal"].threshold == pytest.approx(0.5)
    assert vocab["dog"].threshold == pytest.approx(0.4)
    assert vocab["poodle"].threshold == pytest.approx(0.3)


def test_imagenet_map_has_all_classes_in_timm_order(vocab: Vocabulary) -> None:
    rows = read_imagenet_map(assets_dir() / IMAGENET_MAP_FILE)
    expected = timm_imagenet_classes()
    assert len(rows) == len(expected) == 1000
    assert [row.index for row in rows] == list(range(1000))
    assert [row.wnid for row in rows] == [wnid for wnid, _ in expected]
    assert [row.description for row in rows] == [description for _, description in expected]
    assert len(vocab.imagenet_targets()) == 1000


def test_every_mapped_label_exists_and_most_classes_are_mapped(vocab: Vocabulary) -> None:
    rows = read_imagenet_map(assets_dir() / IMAGENET_MAP_FILE)
    for row in rows:
        assert row.label is None or row.label in vocab, row
    mapped = sum(target is not None for target in vocab.imagenet_targets())
    assert mapped >= 950


@pytest.mark.parametrize(
    ("index", "label", "ancestor"),
    [
        (281, "cat", "animal"),  # tabby (chelsea)
        (282, "cat", "animal"),  # tiger cat
        (283, "cat", "animal"),  # Persian
        (284, "cat", "animal"),  # Siamese
        (285, "cat", "animal"),  # Egyptian cat
        (207, "retriever", "dog"),  # golden retriever
        (151, "chihuahua", "dog"),
        (171, "dog", "animal"),  # Italian greyhound (WordNet also calls it a "racer")
        (267, "poodle", "dog"),
        (291, "lion", "wild cat"),
        (22, "eagle", "bird"),
        (7, "chicken", "bird"),
        (967, "espresso", "drink"),
        (966, "wine", "drink"),
        (963, "pizza", "food and drink"),
        (954, "banana", "fruit"),
        (817, "sports car", "vehicle"),
        (468, "taxi", "car"),
        (717, "truck", "vehicle"),  # pickup
        (404, "airplane", "vehicle"),
        (820, "steam train", "train"),
        (484, "sailboat", "boat"),
        (980, "volcano", "landscape"),
        (978, "beach", "landscape"),  # seashore
        (970, "mountain", "landscape"),  # alp
        (975, "lake", "water"),
        (985, "daisy", "plant"),
        (992, "mushroom", "plant"),
        (968, "cup", "object"),  # a cup, not the drink WordNet files it under
        (620, "laptop", "computer"),
        (487, "phone", "electronics"),
        (402, "guitar", "musical instrument"),
        (497, "church", "place"),
        (916, "screenshot", "document"),
        (805, "soccer", "sport"),
        (610, "shirt", "clothing"),  # jersey, T-shirt
        (982, "wedding", "event"),
    ],
)
def test_spot_checks_of_the_imagenet_map(
    vocab: Vocabulary, index: int, label: str, ancestor: str
) -> None:
    assert vocab.imagenet_targets()[index] == label
    assert ancestor in vocab.ancestors(label)


def test_animal_classes_all_land_under_animal(vocab: Vocabulary) -> None:
    targets = vocab.imagenet_targets()
    for index in range(398):  # ImageNet's animals are classes 0-397
        target = targets[index]
        if target is not None:
            root = (target, *vocab.ancestors(target))[-1]
            assert root == "animal", (index, target)


def test_coffee_chain(vocab: Vocabulary) -> None:
    assert vocab.ancestors("espresso") == ("coffee", "drink", "food and drink")


# ------------------------------------------------------------------------- membership matrix


def test_membership_matrix_shape_and_values(vocab: Vocabulary) -> None:
    names = list(vocab.names)
    matrix = vocab.imagenet_membership(names)
    assert matrix.shape == (1000, len(names))
    assert matrix.dtype == np.float32
    assert set(np.unique(matrix)) <= {0.0, 1.0}
    column = {name: j for j, name in enumerate(names)}
    for label in vocab:
        if label.parent is not None:
            assert np.all(matrix[:, column[label.parent]] >= matrix[:, column[label.name]])
    for index, target in enumerate(vocab.imagenet_targets()):
        if target is None:
            assert not matrix[index].any()
        else:
            root = (target, *vocab.ancestors(target))[-1]
            assert matrix[index, column[root]] == 1.0
            assert matrix[index, column[target]] == 1.0
    # Through its main label, each mapped class counts towards exactly one root: the roots
    # partition the mass. The further labels add to that, never take away.
    main = vocab.imagenet_membership(names, also=False)
    roots = [column[root] for root in vocab.roots()]
    mapped = [t is not None for t in vocab.imagenet_targets()]
    assert np.array_equal(main[:, roots].sum(axis=1), np.asarray(mapped, dtype=np.float32))
    assert np.all(matrix >= main)


def test_membership_gives_parent_scores_never_below_child_scores(vocab: Vocabulary) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 1000)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scores = probs @ vocab.imagenet_membership(["animal", "cat", "dog", "poodle"])
    assert np.all(scores[:, 0] >= scores[:, 1])
    assert np.all(scores[:, 2] >= scores[:, 3])
    assert np.all(scores <= 1.0 + 1e-5)


def test_membership_on_a_small_vocabulary(small: Vocabulary) -> None:
    matrix = small.imagenet_membership(["Animal", "dog", "poodle", "cup", "object"])
    assert matrix.tolist() == [
        [1, 1, 1, 0, 0],  # poodle
        [1, 1, 0, 0, 0],  # dog
        [0, 0, 0, 0, 0],  # ignored
        [1, 0, 0, 0, 0],  # cat
        [0, 0, 0, 1, 1],  # cup
        [1, 0, 0, 0, 0],  # animal itself
    ]
    with pytest.raises(KeyError):
        small.imagenet_membership(["dog", "unicorn"])


# ---------------------------------------------------------------------------------- tree API


def test_tree_queries(small: Vocabulary) -> None:
    assert small.names == ("animal", "dog", "poodle", "cat", "object", "cup")
    assert small.roots() == ("animal", "object")
    assert small.parent("Poodle") == "dog"
    assert small.parent("animal") is None
    assert small.children("animal") == ("dog", "cat")
    assert small.children("poodle") == ()
    assert small.ancestors("poodle") == ("dog", "animal")
    assert small.ancestors("animal") == ()
    assert small.subtree("animal") == ("animal", "dog", "poodle", "cat")
    assert small.subtree("cup") == ("cup",)
    assert len(small) == 6
    assert [label.name for label in small] == list(small.names)
    assert "DOG" in small
    assert "dogs" not in small
    assert 3 not in small  # type: ignore[operator]
    assert small["  Dog "].name == "dog"
    with pytest.raises(KeyError):
        small["dogs"]  # an alias, not a name


def test_names_put_parents_before_children_whatever_the_input_order() -> None:
    labels = [
        Label("poodle", "dog"),
        Label("dog", "animal"),
        Label("cat", "animal"),
        Label("animal"),
    ]
    vocabulary = Vocabulary(labels)
    assert vocabulary.names == ("animal", "dog", "poodle", "cat")
    assert vocabulary.imagenet_targets() == ()
    assert vocabulary.imagenet_membership(["animal"]).shape == (0, 1)


def test_parents_and_targets_are_stored_in_canonical_spelling() -> None:
    vocabulary = Vocabulary([Label("Animal"), Label("dog", "ANIMAL")], ["DOG", None])
    assert vocabulary["dog"].parent == "Animal"
    assert vocabulary.imagenet_targets() == ("dog", None)


def test_shipped_names_are_in_file_order_with_parents_first(vocab: Vocabulary) -> None:
    position = {name: i for i, name in enumerate(vocab.names)}
    for label in vocab:
        if label.parent is not None:
            assert position[label.parent] < position[label.name]
    assert vocab.names[0] == "animal"


# -------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([Label("a", "b"), Label("b", "c"), Label("c", "a")], r"cycle: .*a -> b -> c -> a|cycle"),
        ([Label("a", "a")], "cycle"),
        ([Label("dog", "animal")], "unknown parent 'animal'"),
        ([Label("dog"), Label("Dog")], "duplicate label 'Dog'"),
        ([Label("dog"), Label("cat", aliases=("DOG",))], "alias 'DOG' of 'cat' is already used"),
        ([Label("cat", aliases=("dog",)), Label("dog")], "duplicate label 'dog'.*alias of 'cat'"),
        ([Label("dog", aliases=("pup", "pup"))], "alias 'pup' of 'dog'"),
        ([Label("dog", threshold=1.5)], r"threshold of 'dog' must be between 0 and 1"),
        ([Label("dog", threshold=0.0)], r"threshold of 'dog' must be between 0 and 1"),
        ([Label("dog", threshold=1.0)], r"threshold of 'dog' must be between 0 and 1"),
        ([Label("dog", threshold=math.nan)], r"threshold of 'dog' must be between 0 and 1"),
        ([Label("dog", threshold="high")], "must be a number"),  # type: ignore[arg-type]
        ([Label("dog", kind="system")], "kind of 'dog'"),  # type: ignore[arg-type]
        ([Label("")], "label name must be a non-empty string"),
        ([Label("hot  dog")], "whitespace"),
        ([Label('say "cheese"')], "double quote"),
        ([Label("dog", aliases=("",))], "alias of 'dog' must be a non-empty string"),
    ],
)
def test_invalid_vocabularies_are_rejected_with_a_clear_message(
    labels: list[Label], message: str
) -> None:
    with pytest.raises(VocabularyError, match=message):
        Vocabulary(labels)


def test_cycle_message_names_the_labels() -> None:
    with pytest.raises(VocabularyError) as caught:
        Vocabulary([Label("root"), Label("a", "b"), Label("b", "c"), Label("c", "a")])
    message = str(caught.value)
    assert "cycle" in message
    assert all(name in message for name in ("a", "b", "c"))
    assert "root" not in message


def test_unknown_imagenet_target_is_rejected() -> None:
    with pytest.raises(VocabularyError, match="ImageNet class 1 maps to unknown label 'cow'"):
        Vocabulary([Label("dog")], ["dog", "cow"])


# ---------------------------------------------------------------------------- search helpers


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("cat", "cat"),
        ("Kitten", "cat"),
        ("  KITTIES ", "cat"),
        ("golden   retriever", "retriever"),
        ("Food", "food and drink"),
        ("food and drink", "food and drink"),
        ("aeroplane", "airplane"),
        ("unicorn", None),
        ("", None),
    ],
)
def test_resolve(vocab: Vocabulary, word: str, expected: str | None) -> None:
    assert vocab.resolve(word) == expected


def test_every_name_and_alias_resolves_to_its_label(vocab: Vocabulary) -> None:
    for label in vocab:
        assert vocab.resolve(label.name.upper()) == label.name
        for alias in label.aliases:
            assert vocab.resolve(f" {alias} ") == label.name


def test_suggest(vocab: Vocabulary, small: Vocabulary) -> None:
    assert vocab.suggest("kiten")[0] == "cat"
    assert "rabbit" in vocab.suggest("rabit")
    assert "bicycle" in vocab.suggest("bicycel")
    assert small.suggest("pupy") == ("dog",)
    assert small.suggest("dogs", n=1) == ("dog",)
    assert small.suggest("xyzzy") == ()
    assert small.suggest("dog", n=0) == ()
    suggestions = vocab.suggest("do", n=5)
    assert len(suggestions) == len(set(suggestions)) <= 5


# ---------------------------------------------------------------------------------- extended


def test_extended_adds_user_labels_under_builtin_parents(vocab: Vocabulary) -> None:
    grandma = Label("grandma's dog", "dog", ("rex",), 0.5, "user")
    mine = vocab.extended([grandma, Label("my garden", "place", kind="user")])
    assert len(mine) == len(vocab) + 2
    assert "grandma's dog" not in vocab
    assert mine["Grandma's Dog"].kind == "user"
    assert mine.resolve("Rex") == "grandma's dog"
    assert "grandma's dog" in mine.children("dog")
    assert mine.ancestors("grandma's dog") == ("dog", "animal")
    assert "grandma's dog" in mine.subtree("animal")
    assert mine.names[-2:] == ("grandma's dog", "my garden")
    assert mine.imagenet_targets() == vocab.imagenet_targets()
    columns = ["animal", "dog", "grandma's dog"]
    matrix = mine.imagenet_membership(columns)
    assert np.array_equal(matrix[:, :2], vocab.imagenet_membership(columns[:2]))
    assert not matrix[:, 2].any()


def test_extended_rejects_clashes(vocab: Vocabulary) -> None:
    with pytest.raises(VocabularyError, match="duplicate label 'Dog'"):
        vocab.extended([Label("Dog", kind="user")])
    with pytest.raises(VocabularyError, match="alias 'puppy' of 'my dog' is already used"):
        vocab.extended([Label("my dog", "dog", ("puppy",), kind="user")])
    with pytest.raises(VocabularyError, match="unknown parent 'pets'"):
        vocab.extended([Label("rex", "pets", kind="user")])


# ------------------------------------------------------------------------------ file errors


@pytest.fixture
def assets_copy(tmp_path: Path) -> Path:
    for name in (VOCABULARY_FILE, IMAGENET_MAP_FILE):
        shutil.copy(assets_dir() / name, tmp_path / name)
    return tmp_path


def test_load_from_a_folder(assets_copy: Path, vocab: Vocabulary) -> None:
    assert Vocabulary.load(assets_copy).names == vocab.names


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_threshold_override_in_the_file(assets_copy: Path) -> None:
    _edit(
        assets_copy / VOCABULARY_FILE,
        '"cat" = { parent = "animal",',
        '"cat" = { threshold = 0.25, parent = "animal",',
    )
    assert Vocabulary.load(assets_copy)["cat"].threshold == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("\tcat\n", "\tkat\n", "ImageNet class 281 maps to unknown label 'kat'"),
        ("281\tn02123045", "2810\tn02123045", "line .*: expected class index 281"),
        ("\tcat\n", "\t\n", "empty label"),
        ("\tcat\n", "\tcat\tdog\textra\n", "expected 4 or 5 tab-separated fields"),
        ("\tcat\n", "\tcat\tkat\n", "ImageNet class 281 also feeds unknown label 'kat'"),
        ("\tcat\n", "\tcat\tdog,,\n", "empty name in the further labels"),
        ("\tcat\n", "\tcat\tcat\n", "ImageNet class 281 feeds label 'cat' twice"),
        ("\tcat\n", "\t-\tcat\n", "an ignored class cannot feed"),
        ("n02123045", "n02123159", "bad or repeated WordNet id"),
    ],
)
def test_malformed_imagenet_map(assets_copy: Path, old: str, new: str, message: str) -> None:
    _edit(assets_copy / IMAGENET_MAP_FILE, old, new)
    with pytest.raises(VocabularyError, match=message):
        Vocabulary.load(assets_copy)


def test_imagenet_map_with_missing_lines(assets_copy: Path) -> None:
    path = assets_copy / IMAGENET_MAP_FILE
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(VocabularyError, match="expected 1000 classes, found 999"):
        Vocabulary.load(assets_copy)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"cat" = { parent = "animal",', '"cat" = { parent = "animals",', "unknown parent"),
        ('"cat" = { parent = "animal",', '"cat" = { parnt = "animal",', "unknown keys"),
        ('"cat" = { parent = "animal",', '"cat" = { parent = "animal" ', "not valid TOML"),
        ("\n[labels]\n", "\n[labelz]\n", "no \\[labels\\] table"),
        ("\nformat = 1", "\nformat = 2", "has format 2"),
    ],
)
def test_malformed_vocabulary_file(assets_copy: Path, old: str, new: str, message: str) -> None:
    _edit(assets_copy / VOCABULARY_FILE, old, new)
    with pytest.raises(VocabularyError, match=message):
        Vocabulary.load(assets_copy)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="cannot read"):
        Vocabulary.load(tmp_path)


# ------------------------------------------------------------- the scene, indoor and outdoor


@pytest.mark.parametrize(
    ("index", "labels"),
    [
        (472, ("canoe", "water", "outdoor")),  # canoe
        (693, ("canoe", "water", "outdoor")),  # paddle
        (978, ("beach", "sea", "outdoor")),  # seashore
        (976, ("cliff", "sea", "outdoor")),  # promontory
        (718, ("harbor", "water", "outdoor")),  # pier
        (802, ("winter sport", "snow", "outdoor")),  # snowmobile
        (795, ("skiing", "snow", "outdoor")),  # ski
        (703, ("furniture", "outdoor")),  # park bench
        (970, ("mountain", "outdoor")),  # alp
        (829, ("train", "street", "outdoor")),  # streetcar
        (831, ("sofa", "indoor")),  # studio couch
        (760, ("appliance", "indoor")),  # refrigerator
        (435, ("bathroom", "indoor")),  # bathtub
        (624, ("room", "indoor")),  # library
        (281, ("cat",)),  # tabby: cats live inside and out
        (967, ("espresso",)),
    ],
)
def test_classes_feed_their_scene_and_setting(
    vocab: Vocabulary, index: int, labels: tuple[str, ...]
) -> None:
    assert vocab.imagenet_labels()[index] == labels
    assert vocab.imagenet_targets()[index] == labels[0]


def test_indoor_and_outdoor_are_fed_and_never_together(vocab: Vocabulary) -> None:
    assert {"indoor", "outdoor"} <= set(vocab.roots())
    assert vocab.resolve("indoors") == "indoor" and vocab.resolve("outdoors") == "outdoor"
    matrix = vocab.imagenet_membership(["indoor", "outdoor", "landscape", "room"])
    indoor, outdoor, landscape, room = matrix.T
    assert indoor.sum() >= 60 and outdoor.sum() >= 100
    assert not np.any(indoor * outdoor)
    assert np.all(outdoor >= landscape)  # every land form is outdoors
    assert np.all(indoor >= room)
    for index in range(398):  # animals imply neither
        assert not (indoor[index] or outdoor[index]), index


def test_the_map_header_says_how_the_further_labels_were_derived() -> None:
    header = [
        line
        for line in (assets_dir() / IMAGENET_MAP_FILE).read_text().splitlines()
        if line.startswith("#")
    ]
    text = " ".join(header)
    assert "also" in text and "indoor" in text and "WordNet" in text
    assert "build_imagenet_map.py" in text


def test_membership_with_further_labels_keeps_parents_at_or_above_children(
    vocab: Vocabulary,
) -> None:
    names = list(vocab.names)
    matrix = vocab.imagenet_membership(names)
    column = {name: j for j, name in enumerate(names)}
    for label in vocab:
        for ancestor in vocab.ancestors(label.name):
            assert np.all(matrix[:, column[ancestor]] >= matrix[:, column[label.name]]), label
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3.0, size=(8, 1000)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scores = probs @ vocab.imagenet_membership(["landscape", "water", "sea", "outdoor"])
    assert np.all(scores[:, 0] >= scores[:, 1]) and np.all(scores[:, 1] >= scores[:, 2])
    assert np.all(scores <= 1.0 + 1e-5)


def test_further_labels_on_a_small_vocabulary(small: Vocabulary) -> None:
    both = Vocabulary(list(small), ["poodle", "cup", None], [(), ("cat",), ()])
    matrix = both.imagenet_membership(["animal", "cat", "cup", "object"])
    assert matrix.tolist() == [[1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]]
    assert both.imagenet_membership(["cat"], also=False).sum() == 0
    assert both.imagenet_labels() == (("poodle",), ("cup", "cat"), ())
    assert both.extended([Label("mine", "object", kind="user")]).imagenet_labels() == (
        both.imagenet_labels()
    )
    with pytest.raises(VocabularyError, match="also feeds unknown label 'kat'"):
        Vocabulary(list(small), ["dog"], [("kat",)])
    with pytest.raises(VocabularyError, match="is ignored but feeds"):
        Vocabulary(list(small), [None], [("cat",)])
    with pytest.raises(VocabularyError, match="feeds label 'dog' twice"):
        Vocabulary(list(small), ["dog"], [("Dog",)])


# ------------------------------------------------------------------------- prior-blind labels


def test_prior_blind_labels(vocab: Vocabulary) -> None:
    for name in ("sky", "sunset", "forest", "person", "fireworks"):
        assert vocab.prior_blind(name), name
    for name in ("dog", "animal", "landscape", "water", "sea", "snow", "indoor", "outdoor"):
        assert not vocab.prior_blind(name), name
    assert set(vocab.prior_labels()) == {n for n in vocab.names if not vocab.prior_blind(n)}
    assert list(vocab.prior_labels()) == [n for n in vocab.names if n in vocab.prior_labels()]
    mine = vocab.extended(
        [Label("grandma's garden", "garden", kind="user"), Label("my dog", "dog", kind="user")]
    )
    assert mine.prior_blind("Grandma's Garden") and mine.prior_blind("my dog")
    assert not mine.prior_blind("garden") and "my dog" not in mine.prior_labels()
    with pytest.raises(KeyError):
        vocab.prior_blind("unicorn")
    # Exactly the labels with an all-zero membership column, and the user's labels.
    names = list(mine.names)
    zero = mine.imagenet_membership(names).sum(axis=0) == 0
    assert [n for n, z in zip(names, zero, strict=True) if z] == [
        n
        for n in names
        if (mine.prior_blind(n) and mine[n].kind == "builtin") or mine[n].kind == "user"
    ]


def test_no_mapping_makes_every_label_prior_blind(small: Vocabulary) -> None:
    bare = Vocabulary(list(small))
    assert all(bare.prior_blind(name) for name in bare.names)
    assert bare.prior_labels() == ()
    assert small.prior_blind("object") is False and small.prior_blind("poodle") is False


# ---------------------------------------------------------------------------- on real photos


@pytest.mark.slow
def test_real_outdoor_photos_get_an_outdoor_label_and_an_indoor_one_does_not(
    vocab: Vocabulary,
) -> None:
    """The global prior on real ImageNet photos (foolbox's), scored as the prior head does.

    None of the bundled photos is a pure landscape the 1000 classes describe: the nearest is a
    jeep on a mountain track (imagenet_06), a car on a rocky slope (imagenet_07) and a yurt in a
    forest (imagenet_08). The global softmax puts their mass on the vehicle or the hut, so it is
    the scene labels fed through the "also" column that tag the scene: outdoor.
    """
    pytest.importorskip("torch")
    from PIL import Image

    from core.media.imaging import to_model_input
    from core.model.tagger import Backbone
    from tests.conftest import foolbox_photos

    photos = {path.stem: path for path, _ in foolbox_photos()}
    outdoor = ["imagenet_06_609", "imagenet_07_609", "imagenet_08_915", "imagenet_05_853"]
    indoor = ["imagenet_12_741"]  # a prayer rug on a floor
    backbone = Backbone.load(device="cpu")
    crops = []
    for name in outdoor + indoor:
        with Image.open(photos[name]) as image:
            crops.append(
                to_model_input(image.convert("RGB"), size=backbone.input_size, crop_pct=0.875)
            )
    import torch

    with torch.inference_mode():
        logits = backbone.classify(backbone.features(np.stack(crops)))
        probs = torch.softmax(logits.float(), dim=1).cpu().numpy()
    names = ["outdoor", "indoor"]
    scores = probs @ vocab.imagenet_membership(names)
    threshold = {name: vocab[name].threshold for name in names}
    for row, name in zip(scores, outdoor + indoor, strict=True):
        expect = "outdoor" if name in outdoor else "indoor"
        other = "indoor" if expect == "outdoor" else "outdoor"
        assert row[names.index(expect)] >= threshold[expect], (name, row)
        assert row[names.index(other)] < threshold[other], (name, row)

"""Labelled cut-outs and real backgrounds for ``trainer.papers.synth``, all from offline packages.

Two sources:

* ``pip``: what pip installs offline (used by the tests). Objects are the 20 ImageNet
  photos shipped in the PyPI package ``foolbox`` (``foolbox/data/imagenet_NN_<class>.jpg``,
  read without importing foolbox) and four scikit-image samples (chelsea the cat, the
  coffee cup, the astronaut, the rocket), cut out with a feathered ellipse; backgrounds
  are scikit-image's grass, gravel and brick photos. Labels come from the ImageNet class
  in the file name.
* ``tuxpaint``: Debian's ``tuxpaint-stamps-default`` (photo cut-outs with an alpha channel,
  labelled by their folder, e.g. ``animals/birds/blackbird.png`` -> animal, bird) pasted on
  real photographs from Debian's ``mate-backgrounds`` (the nature set) and
  ``plasma-workspace-wallpapers`` (the photographic ones). ``fetch_debian`` downloads the
  packages with ``apt-get download`` and unpacks them with ``dpkg -x`` into a cache folder
  (``apt-get update`` must have run once). Cartoon and symbol stamps (letters, maths,
  money...) are left out, and so are the wallpapers whose subject would be a stamp label
  (flowers, the ladybird).
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

logger = logging.getLogger(__name__)

DEBIAN_PACKAGES = ("tuxpaint-stamps-default", "mate-backgrounds", "plasma-workspace-wallpapers")
STAMPS_DIR = "usr/share/tuxpaint/stamps"

# Folder prefix -> labels; the longest matching prefix wins, unmatched stamps are skipped.
TUXPAINT_RULES: dict[str, tuple[str, ...]] = {
    "animals": ("animal",),
    "animals/birds": ("animal", "bird"),
    "animals/fish": ("animal", "fish"),
    "animals/insects": ("animal", "insect"),
    "animals/mammals": ("animal", "mammal"),
    "animals/mammals/bovines": ("animal", "mammal", "cattle"),
    "animals/mammals/rodents": ("animal", "mammal", "rodent"),
    "animals/marsupials": ("animal", "mammal"),
    "food/fruit": ("food", "fruit"),
    "food/vegetables": ("food", "vegetable"),
    "food/nuts": ("food",),
    "plants": ("plant",),
    "plants/flowers": ("plant", "flower"),
    "plants/trees": ("plant", "tree"),
    "clothes": ("clothing",),
    "clothes/hats": ("clothing", "hat"),
    "household": ("household object",),
    "household/tools": ("tool",),
    "seasonal/christmas": ("christmas",),
    "seasonal/easter": ("easter",),
    "seasonal/halloween": ("halloween",),
    "seasonal/hanukkah": ("hanukkah",),
    "space": ("space",),
    "space/planets": ("space", "planet"),
    "sports": ("sports",),
    "town/roadsigns": ("road sign",),
    "town/flags": ("flag",),
    "vehicles": ("vehicle",),
    "military/vehicles": ("vehicle",),
    "hobbies/music": ("musical instrument",),
    "medical": ("medical",),
}
_SKIPPED_PARTS = {"cartoon", "toys", "plastic"}

MATE_NATURE = ("Aqua", "Blinds", "Dune", "GreenMeadow", "RainDrops", "Storm", "Wood")
PLASMA_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "OneStandsOut",
    "Path",
    "summer_1am",
)

# foolbox's ImageNet photos: class index -> labels (classes left out have no clear label).
FOOLBOX_LABELS: dict[int, tuple[str, ...]] = {
    22: ("animal", "bird"),
    99: ("animal", "bird"),
    129: ("animal", "bird"),
    243: ("animal", "dog"),
    251: ("animal", "dog"),
    305: ("animal", "insect"),
    317: ("animal", "insect"),
    609: ("vehicle",),
    949: ("food", "fruit"),
    541: ("musical instrument",),
}
SKIMAGE_OBJECTS: dict[str, tuple[str, ...]] = {
    "chelsea": ("animal", "cat"),
    "coffee": ("cup",),
    "astronaut": ("person",),
    "rocket": ("vehicle",),
}
SKIMAGE_BACKGROUNDS = ("grass", "gravel", "brick")


class SourceError(RuntimeError):
    """A source's files are missing and cannot be fetched."""


@dataclass(frozen=True)
class Cutout:
    """An object with an alpha mask and its labels.

    Attributes:
        name: Unique id (the stamp's path without suffix, or the photo's name).
        group: Stratification group for the train/test split of instances.
        labels: The labels an image gets when this object is pasted on it.
        image: RGBA image; alpha 0 outside the object.
    """

    name: str
    group: str
    labels: tuple[str, ...]
    image: Image.Image


def label_parents(chains: Iterable[tuple[str, ...]]) -> dict[str, str | None]:
    """Each label's parent from root-to-leaf label chains (``Cutout.labels``).

    Raises:
        ValueError: A label has two different parents.
    """
    parents: dict[str, str | None] = {}
    for chain in chains:
        for i, label in enumerate(chain):
            parent = chain[i - 1] if i else None
            if parents.setdefault(label, parent) != parent:
                raise ValueError(f"{label!r} has two parents: {parents[label]!r} and {parent!r}")
    return parents


def fetch_debian(cache: Path, packages: tuple[str, ...] = DEBIAN_PACKAGES) -> Path:
    """Download and unpack Debian packages into ``cache/root`` (once); return that folder.

    Raises:
        SourceError: ``apt-get download`` or ``dpkg -x`` failed (run ``apt-get update``).
    """
    debs, root = Path(cache) / "deb", Path(cache) / "root"
    debs.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    for package in packages:
        marker = root / f".unpacked-{package}"
        if marker.exists():
            continue
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            logger.info("downloading Debian package %s", package)
            _run(["apt-get", "download", package], debs)
            found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            raise SourceError(f"apt-get download {package} left no .deb in {debs}")
        _run(["dpkg", "-x", str(found[-1]), str(root)], debs)
        marker.touch()
    return root


def _run(command: list[str], cwd: Path) -> None:
    try:
        subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise SourceError(f"{command[0]} is not available: {exc}") from exc
    except subprocess.CalledProcessError as exc:
        raise SourceError(
            f"{' '.join(command)} failed ({exc.stderr.strip()[:300]}); "
            "run 'apt-get update' once, or unpack the packages yourself with dpkg -x"
        ) from exc


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    image = image.copy()
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _trim(image: Image.Image) -> Image.Image | None:
    """Crop an RGBA image to its visible pixels; None if (almost) nothing is visible."""
    box = image.getchannel("A").point(lambda a: 255 if a > 16 else 0).getbbox()
    if box is None or (box[2] - box[0]) < 8 or (box[3] - box[1]) < 8:
        return None
    return image.crop(box)


def stamp_labels(relative: str) -> tuple[str, ...] | None:
    """Labels of a stamp from its path under the stamps folder; None when it is skipped."""
    parts = relative.split("/")[:-1]
    if not parts or parts[0] == "symbols" or _SKIPPED_PARTS.intersection(parts):
        return None
    for end in range(len(parts), 0, -1):
        rule = TUXPAINT_RULES.get("/".join(parts[:end]))
        if rule is not None:
            return rule
    return None


def tuxpaint_cutouts(root: Path, max_side: int = 256) -> list[Cutout]:
    """The photo stamps of ``tuxpaint-stamps-default`` unpacked under ``root``.

    Raises:
        SourceError: The stamps folder is missing.
    """
    stamps = Path(root) / STAMPS_DIR
    if not stamps.is_dir():
        raise SourceError(f"no Tux Paint stamps in {stamps}; see fetch_debian")
    cutouts = []
    for path in sorted(stamps.rglob("*.png")):
        relative = path.relative_to(stamps).as_posix()
        labels = stamp_labels(relative)
        if labels is None:
            continue
        with Image.open(path) as im:
            rgba = im.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] > 250:
            continue  # no transparency: not a cut-out
        trimmed = _trim(rgba)
        if trimmed is not None:
            group = relative.rsplit("/", 1)[0]
            cutouts.append(Cutout(relative[:-4], group, labels, _shrink(trimmed, max_side)))
    logger.info("loaded %d Tux Paint cut-outs", len(cutouts))
    return cutouts


def _best_plasma_image(folder: Path, width: int = 1280) -> Path | None:
    images = sorted((folder / "contents" / "images").glob("*x*.jpg"))
    if not images:
        return None
    return min(images, key=lambda p: abs(int(p.stem.split("x")[0]) - width))


def wallpaper_backgrounds(root: Path, max_side: int = 800) -> list[Image.Image]:
    """The photographic wallpapers unpacked under ``root``, shrunk to ``max_side``.

    Raises:
        SourceError: None of them is there.
    """
    paths = [Path(root) / f"usr/share/backgrounds/mate/nature/{n}.jpg" for n in MATE_NATURE]
    for name in PLASMA_PHOTOS:
        best = _best_plasma_image(Path(root) / "usr/share/wallpapers" / name)
        if best is not None:
            paths.append(best)
    images = []
    for path in paths:
        if path.is_file():
            with Image.open(path) as im:
                images.append(_shrink(im.convert("RGB"), max_side))
    if not images:
        raise SourceError(f"no wallpapers under {root}; see fetch_debian")
    logger.info("loaded %d wallpaper backgrounds", len(images))
    return images


def _ellipse_cutout(photo: Image.Image, keep: float = 0.8, max_side: int = 256) -> Image.Image:
    """A centred, feathered elliptical cut-out of a photo without an alpha channel."""
    photo = _shrink(photo.convert("RGB"), max_side)
    w, h = photo.size
    yy, xx = np.mgrid[0:h, 0:w]
    r = ((xx - w / 2) / (keep * w / 2)) ** 2 + ((yy - h / 2) / (keep * h / 2)) ** 2
    alpha = Image.fromarray(np.where(r <= 1.0, 255, 0).astype(np.uint8))
    alpha = alpha.filter(ImageFilter.GaussianBlur(max(1.0, 0.02 * min(w, h))))
    out = photo.copy()
    out.putalpha(alpha)
    return _trim(out) or out


def foolbox_data_dir() -> Path:
    """``foolbox/data`` of the installed package (not imported).

    Raises:
        SourceError: foolbox is not installed.
    """
    spec = importlib.util.find_spec("foolbox")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "data").is_dir():
            return Path(folder) / "data"
    raise SourceError("the pip source needs the package foolbox (pip install --no-deps foolbox)")


def _skimage_image(name: str) -> Image.Image:
    import skimage.data

    array = getattr(skimage.data, name)()
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(array[..., :3]).astype(np.uint8))


def pip_cutouts(max_side: int = 128) -> list[Cutout]:
    """Cut-outs from foolbox's ImageNet photos and scikit-image samples (see module doc)."""
    cutouts = []
    for path in sorted(foolbox_data_dir().glob("imagenet_*_*.jpg")):
        labels = FOOLBOX_LABELS.get(int(path.stem.rsplit("_", 1)[1]))
        if labels is None:
            continue
        with Image.open(path) as im:
            cut = _ellipse_cutout(im, max_side=max_side)
        cutouts.append(Cutout(f"foolbox/{path.stem}", labels[-1], labels, cut))
    for name, labels in SKIMAGE_OBJECTS.items():
        cut = _ellipse_cutout(_skimage_image(name), max_side=max_side)
        cutouts.append(Cutout(f"skimage/{name}", labels[-1], labels, cut))
    return cutouts


def pip_backgrounds(max_side: int = 256) -> list[Image.Image]:
    """scikit-image's grass, gravel and brick photographs as RGB."""
    return [_shrink(_skimage_image(name), max_side) for name in SKIMAGE_BACKGROUNDS]

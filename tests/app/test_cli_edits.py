"""The command line's edits go through core.ops: what tag, undo, redo, labels --add and
export-xmp say (real photos, the real model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli.cli import main
from core.db.store import Status
from core.library import Library


@pytest.fixture
def album(tmp_path: Path, real_photo_paths) -> Path:
    root = tmp_path / "album"
    root.mkdir()
    for name in ("chelsea", "coffee"):
        src = real_photo_paths[name]
        shutil.copy2(src, root / f"{name}{src.suffix}")
    assert main(["index", str(root), "--no-faces"]) == 0
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_tag_undo_and_redo_say_what_they_did(album: Path, capsys) -> None:
    assert run(capsys, "undo", str(album)) == (0, "Nothing to do.", "")
    assert run(capsys, "tag", str(album), "coffee.png", "-coffee")[1] == "Updated 1 photo."
    assert run(capsys, "tag", str(album), "coffee.png", "-coffee")[1] == "Nothing changed."
    assert run(capsys, "undo", str(album))[1] == "Undid tag change on 1 photo."
    code, out, _ = run(capsys, "redo", str(album), "--json")
    assert code == 0 and json.loads(out) == {
        "photos": 1,
        "what": "redid tag change on 1 photo",
        "changed": True,
    }
    code, out, _ = run(capsys, "redo", str(album), "--json")
    assert json.loads(out)["changed"] is False
    code, _, err = run(capsys, "tag", str(album), "coffee.png", "+cofee")
    assert code == 2 and err.startswith("albumtag: unknown label 'cofee'") and "coffee" in err


def test_labels_add_says_whether_it_made_one(album: Path, capsys) -> None:
    code, out, _ = run(
        capsys, "labels", str(album), "--add", "Grandma", "--parent", "people", "--json"
    )
    made = json.loads(out)
    assert code == 0 and made["name"] == "Grandma" and made["created"] is True
    code, out, _ = run(capsys, "labels", str(album), "--add", "grandma", "--json")
    again = json.loads(out)
    assert again == {"name": "Grandma", "id": made["id"], "created": False}
    code, _, err = run(capsys, "labels", str(album), "--add", "Anna", "--parent", "nobody")
    assert code == 2 and "unknown label 'nobody'" in err


def test_export_xmp_counts_photos_with_nothing_to_write(album: Path, capsys) -> None:
    assert run(capsys, "tag", str(album), "chelsea.png", "+cat")[0] == 0
    code, out, _ = run(capsys, "export-xmp", str(album))
    assert code == 0 and out == "Wrote 1 sidecar, 1 with nothing to write."
    assert not (album / "coffee.png.xmp").exists()  # nothing confirmed: no sidecar made
    assert run(capsys, "export-xmp", str(album))[1] == (
        "Wrote 0 sidecars, 1 already up to date, 1 with nothing to write."
    )
    data = json.loads(run(capsys, "export-xmp", str(album), "--json")[1])
    assert (data["written"], data["unchanged"], data["nothing"]) == (0, 1, 1)


def test_models_activate_and_rollback_rescore_the_album(album: Path, capsys) -> None:
    with Library(album) as library:
        active = library.store.active_model()
        near = max(
            (
                v
                for v in library.tags(library.photo("coffee.png"))
                if v.score is not None and not v.has
            ),
            key=lambda v: v.score,
        )
        lowered = {**active.thresholds, near.label.lower(): near.score / 2}
        library.store.add_model(
            1, active.backbone, None, lowered, active.metrics, activate=False
        )  # the prior, with one threshold lower
    code, out, _ = run(capsys, "models", str(album), "--activate", "1")
    assert code == 0 and out.endswith("Version 1 is active; the album is re-scored.")
    with Library(album) as library:
        assert library.store.active_model().version == 1
        assert {p.model_version for p in library.store.photos(Status.OK)} == {1}
        coffee = library.photo("coffee.png")
        assert near.label in {v.label for v in library.tags(coffee) if v.has}
    code, out, _ = run(capsys, "models", str(album), "--rollback")
    assert code == 0 and out.endswith("Version 0 is active; the album is re-scored.")
    with Library(album) as library:
        assert {p.model_version for p in library.store.photos(Status.OK)} == {0}

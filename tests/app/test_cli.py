"""The ``albumtag`` command line: output, --json, and exit codes (0 / 2 / 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli.cli import main


@pytest.fixture(scope="module")
def album(tmp_path_factory, real_photo_paths) -> Path:
    root = tmp_path_factory.mktemp("cli") / "my photos"
    root.mkdir()
    for name in ("chelsea", "coffee", "rocket", "astronaut"):
        src = real_photo_paths[name]
        shutil.copy2(src, root / f"{name}{src.suffix}")
    (root / "broken.jpg").write_text("not a jpeg")
    assert main(["index", str(root)]) == 0
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_index_summary_counts_errors_and_json_has_the_reasons(album, capsys):
    code, out, _ = run(capsys, "index", str(album), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["files"] == 5 and data["unchanged"] == 4 and data["tagged"] == 0
    assert data["errors"] == 1
    assert data["error_photos"] == [{"path": "broken.jpg", "reason": "not an image"}]
    code, out, _ = run(capsys, "index", str(album))
    assert "Indexed 5 photo files" in out and "error  broken.jpg" in out


def test_search_prints_paths_and_json(album, capsys):
    code, out, _ = run(capsys, "search", str(album), "animal")
    assert code == 0 and out.split() == ["chelsea.png"]
    code, out, _ = run(capsys, "search", str(album), "cat", "OR", "coffee", "--json")
    assert {p["path"] for p in json.loads(out)} == {"chelsea.png", "coffee.png"}


def test_tags_shows_score_source_and_verdict(album, capsys):
    code, out, _ = run(capsys, "tags", str(album), "chelsea.png")
    assert code == 0
    assert "animal › cat" in out and "model" in out
    code, out, _ = run(capsys, "tags", str(album), "chelsea.png", "--json")
    tags = {t["label"]: t for t in json.loads(out)["tags"]}
    assert tags["cat"]["source"] == "model" and tags["cat"]["score"] > tags["cat"]["threshold"]


def test_tag_confirm_reject_and_undo(album, capsys):
    assert run(capsys, "tag", str(album), "rocket.jpg", "+beach", "-rocket")[0] == 0
    _, out, _ = run(capsys, "tags", str(album), "rocket.jpg", "--json")
    tags = {t["label"]: t for t in json.loads(out)["tags"]}
    assert tags["beach"]["verdict"] == "confirmed" and tags["beach"]["has"]
    assert tags["rocket"]["verdict"] == "rejected" and not tags["rocket"]["has"]
    _, out, _ = run(capsys, "search", str(album), "beach")
    assert out.split() == ["rocket.jpg"]
    assert run(capsys, "undo", str(album))[0] == 0
    _, out, _ = run(capsys, "search", str(album), "beach")
    assert out.split() == []


def test_user_label_created_on_the_fly_and_listed(album, capsys):
    code, _, _ = run(
        capsys, "tag", str(album), "chelsea.png", "+Whiskers", "--create", "--parent", "cat"
    )
    assert code == 0
    _, out, _ = run(capsys, "labels", str(album))
    line = next(ln for ln in out.splitlines() if "Whiskers" in ln)
    assert "(yours)" in line and line.split()[2] == "1"
    assert line.endswith("learns from your examples")  # only examples teach a label of yours
    cat = next(ln for ln in out.splitlines() if ln.strip().startswith("cat "))
    assert "learns" not in cat  # ImageNet's cat classes feed it
    _, out, _ = run(capsys, "labels", str(album), "--json")
    nodes = {n["name"]: n for n in json.loads(out)}
    assert (
        nodes["Whiskers"]["kind"] == "user"
        and nodes["Whiskers"]["depth"] == nodes["cat"]["depth"] + 1
    )
    assert nodes["Whiskers"]["learns_from_examples"] and not nodes["cat"]["learns_from_examples"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "{album}", "dog OR"], "bad search: OR needs a term"),
        (["search", "{album}", "'; DROP TABLE photos; --"], "no label called"),
        (["tags", "{album}", "nope.jpg"], "not a photo of this album"),
        (["tag", "{album}", "chelsea.png", "+zebrafish"], "unknown label 'zebrafish'"),
        (["tag", "{album}", "chelsea.png"], "say what to change"),
        (["search", "/no/such/folder", "cat"], "is not a folder"),
        (["index", "{album}", "--model", "resnet50"], "cannot load the model"),
        (["frobnicate"], "invalid choice"),
        (["index", "{album}", "--batch-size", "0"], "--batch-size: must be at least 1, not 0"),
        (["index", "{album}", "--workers", "two"], "--workers: 'two' is not a whole number"),
        (["index", "{album}", "--pipeline", "fast"], "invalid choice: 'fast'"),
    ],
)
def test_bad_input_exits_2_with_one_line(album, capsys, argv, message):
    code, _, err = run(capsys, *[a.replace("{album}", str(album)) for a in argv])
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_the_database_survives_an_injection_attempt(album, capsys):
    run(capsys, "search", str(album), "'; DROP TABLE photos; --")
    _, out, _ = run(capsys, "search", str(album), "")
    assert len(out.split()) == 4

"""The command line against hostile input: one clear line and exit status 2, never a traceback.

The album is indexed with the fake model (tests/fakes.py); these commands need no model.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.cli import main
from core.library import Library
from tests.core.test_paths import index_with_fake_model


@pytest.fixture(scope="module")
def album(tmp_path_factory, real_photo_paths) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "album"
    root.mkdir()
    for name in ("chelsea", "coffee", "rocket"):
        src = real_photo_paths[name]
        shutil.copy2(src, root / f"{name}{src.suffix}")
    with Library(root) as library:
        index_with_fake_model(library)
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "query",
    ["(" * 250 + "dog" + ")" * 250, "NOT " * 1000 + "dog", "-" * 2000 + "dog"],
    ids=["250 parentheses", "1000 NOTs", "2000 minuses"],
)
def test_a_deeply_nested_search_exits_2_with_a_message(album, capsys, query):
    code, out, err = run(capsys, "search", str(album), query)
    assert code == 2 and not out
    assert "nested too deeply" in one_line_error(err)


def test_search_words_may_start_with_a_minus(album, capsys):
    everything = set(run(capsys, "search", str(album), "")[1].split())
    rest = everything - {"chelsea.png"}
    assert len(rest) == 2
    code, out, _ = run(capsys, "search", str(album), "-path:chelsea", "--json")
    assert code == 0 and out.startswith("[")
    code, out, _ = run(capsys, "search", str(album), "--limit", "5", "-path:chelsea")
    assert code == 0 and set(out.split()) == rest
    code, out, _ = run(capsys, "search", str(album), "--", "-path:chelsea")
    assert code == 0 and set(out.split()) == rest


def test_photos_named_like_edits_can_be_tagged_after_a_double_dash(
    tmp_path, capsys, real_photo_paths
):
    album = tmp_path / "album"
    album.mkdir()
    names = ["+x.png", "-x.png", "=x.png"]
    for name in names:
        shutil.copy2(real_photo_paths["chelsea"], album / name)
    with Library(album) as library:
        index_with_fake_model(library)
    code, out, err = run(capsys, "tag", str(album), "+beach", "-cat", "--", *names)
    assert code == 0, err
    assert out.strip() == "Updated 3 photos."
    for name in names:
        code, out, err = run(capsys, "tags", str(album), "--json", "--", name)
        assert code == 0, err
        verdicts = {t["label"]: t["verdict"] for t in json.loads(out)["tags"] if t["verdict"]}
        assert verdicts == {"beach": "confirmed", "cat": "rejected"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("year:", "year: needs a date"),
        ("date:..", "date: needs a date"),
        ("date:2024..2023", "ends before it starts"),
        ("date:2024-02-30", "bad date '2024-02-30': no such day"),
        ("date:2023-02-29..2023-03", "bad date '2023-02-29': no such day"),
        ("path:a\0b", "cannot contain a NUL"),
    ],
)
def test_empty_and_backwards_dates_and_nul_paths_are_clear_errors(album, capsys, query, message):
    code, out, err = run(capsys, "search", str(album), query)
    assert code == 2 and not out and message in one_line_error(err)


HIERARCHICAL_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:lr="http://ns.adobe.com/lightroom/1.0/">
<lr:hierarchicalSubject><rdf:Bag><rdf:li>{}</rdf:li></rdf:Bag></lr:hierarchicalSubject>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>
"""


def test_keywords_of_a_photo_whose_folder_and_name_are_not_utf8_go_both_ways(
    tmp_path, capsys, real_photo_paths
):
    """exiv2 was handed the name as UTF-8, which fails on such a name: the photo's sidecar was
    never read ("Family|Grandma" not imported) and a second export failed with "'utf-8' codec
    can't encode character '\\udce9'"."""
    pytest.importorskip("pyexiv2")
    album = tmp_path / "album"
    folder = album / os.fsdecode(b"d\xf6rfer")
    folder.mkdir(parents=True)
    name = os.fsdecode(b"caf\xe9.jpg")
    shutil.copy2(real_photo_paths["rocket"], folder / name)
    (folder / f"{name}.xmp").write_text(HIERARCHICAL_XMP.format("Family|Grandma"), encoding="utf-8")
    shown = "d\\xf6rfer/caf\\xe9.jpg"
    with Library(album) as library:
        index_with_fake_model(library)
    code, out, err = run(capsys, "tags", str(album), "--json", shown)
    assert code == 0, err
    verdicts = {t["label"]: t["verdict"] for t in json.loads(out)["tags"] if t["verdict"]}
    assert verdicts == {"Grandma": "confirmed"}

    assert run(capsys, "tag", str(album), shown, "+beach")[0] == 0
    assert run(capsys, "export-xmp", str(album))[1].strip() == "Wrote 1 sidecar."
    assert run(capsys, "export-xmp", str(album))[1].strip() == (
        "Wrote 0 sidecars, 1 already up to date."
    )
    code, out, err = run(capsys, "export-xmp", str(album), "--embed")
    assert (code, out.strip(), err) == (0, "Wrote 1 photo.", "")
    from core.media.sidecars import read_keywords

    for keywords in (read_keywords(folder / name, embedded=False), read_keywords(folder / name)):
        assert {"Family|Grandma", "landscape|water|beach"} <= {"|".join(p) for p in keywords.paths}
    assert not [n for n in os.listdir(folder) if "albumtag" in n]  # no temporary file left


ROOT = Path(__file__).resolve().parents[2]

#: Runs ``albumtag ARGV`` in a child that SIGKILLs itself when ``module:Attr.path`` is called
#: with arguments whose repr holds ``KILL_WHEN``: no handler, ``finally`` or rollback of Python
#: runs, as when the OOM killer or ``kill -9`` strikes there.
KILLED_AT = r"""
import functools, importlib, os, signal, sys
target, argv = sys.argv[1], sys.argv[2:]
module, _, path = target.partition(":")
*owners, name = path.split(".")
holder = functools.reduce(getattr, owners, importlib.import_module(module))
real = getattr(holder, name)

def killed(*args, **kwargs):
    if os.environ["KILL_WHEN"] in repr(args):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

setattr(holder, name, killed)
from app.cli.cli import main
sys.exit(main(argv))
"""


def killed_at(target: str, when: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILLED_AT, target, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KILL_WHEN": when},
    )


@pytest.mark.slow
def test_an_index_killed_mid_import_keeps_the_photo_pending_and_makes_no_labels(
    tmp_path, capsys, real_photo_paths
):
    """SIGKILL (not an exception: nothing in Python gets to roll back) while the keywords of a
    photo are written: the labels they made must go with the photo's scores and status, and
    the next run must read the keywords again (it used to mark the photo done without them)."""
    from tests.core.test_keyword_import import sidecar_with

    album = tmp_path / "album"
    album.mkdir()
    shutil.copy2(real_photo_paths["rocket"], album / "rocket.jpg")
    (album / "rocket.jpg.xmp").write_text(sidecar_with(300), encoding="utf-8")
    done = killed_at(
        "core.db.tagstore:TagStore.import_verdicts", "", "index", str(album), "--no-faces"
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    db = sqlite3.connect(album / ".albumtag" / "album.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT status, model_version FROM photos").fetchall() == [("pending", None)]
    assert db.execute("SELECT COUNT(*) FROM labels WHERE name LIKE 'kw%'").fetchone() == (0,)
    db.close()
    code, out, err = run(capsys, "index", str(album), "--no-faces", "--json")
    assert code == 0 and json.loads(out)["tagged"] == 1, err
    code, out, err = run(capsys, "tags", str(album), "rocket.jpg", "--json")
    confirmed = {t["label"] for t in json.loads(out)["tags"] if t["verdict"] == "confirmed"}
    assert confirmed == {f"kw{i:06d}" for i in range(300)}


def test_an_export_killed_before_its_rename_leaves_the_photo_whole_and_is_cleaned_up(
    tmp_path, capsys, real_photo_paths
):
    """SIGKILL between writing the temporary copy and moving it over the photo (``--embed``):
    the original is untouched, the copy (megabytes) stays behind, and the next export removes
    it and writes the photo."""
    album = tmp_path / "album"
    album.mkdir()
    shutil.copy2(real_photo_paths["chelsea"], album / "chelsea.png")
    with Library(album) as library:
        index_with_fake_model(library)
    assert run(capsys, "tag", str(album), "chelsea.png", "+beach")[0] == 0
    original = (album / "chelsea.png").read_bytes()
    done = killed_at("os:replace", ".albumtag-", "export-xmp", str(album), "--embed")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert (album / "chelsea.png").read_bytes() == original
    left = [p for p in album.iterdir() if p.name.startswith(".albumtag-")]
    assert len(left) == 1 and left[0].stat().st_size > 100_000
    code, out, err = run(capsys, "export-xmp", str(album), "--embed")
    assert (code, out.strip(), err) == (0, "Wrote 1 photo.", "")
    assert not [p for p in album.iterdir() if p.name.startswith(".albumtag-")]
    assert (album / "chelsea.png").read_bytes() != original


def test_the_window_says_when_a_photos_keywords_were_left_out(make_window, qtbot, tmp_path):
    """The cap on new labels per photo was reported by albumtag index only; the window
    said "Tagged 1 photo." and nothing of the keywords it left out."""
    from core.pipeline.enrich import Enricher
    from core.pipeline.indexer import Indexer
    from core.pipeline.keywords import MAX_NEW_LABELS_PER_FILE
    from tests.app.conftest import fake_model
    from tests.core.test_keyword_import import photo_with_keywords

    album = tmp_path / "album"
    photo_with_keywords(album, "a.jpg", MAX_NEW_LABELS_PER_FILE + 100)

    def indexer(library: Library) -> Indexer:
        enricher = Enricher(library.store, labels_added=library.reload_vocabulary)
        model = fake_model(library)
        return Indexer(
            library.root, library.store, lambda: model, library.thumbnails, enricher=enricher
        )

    window = make_window(indexer_factory=indexer)
    window.open_album(album)
    qtbot.waitUntil(lambda: "keywords not imported" in window.status.message.text(), timeout=60_000)
    assert window.status.message.text().strip() == (
        "Indexing: Tagged 1 photo, a.jpg: 100 keywords not imported: one photo's keywords may "
        f"make at most {MAX_NEW_LABELS_PER_FILE} new labels."
    )

"""Small parts of the window that need no album: completion, tag rows, settings, the loader."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from app.gui.imageloader import ImageLoader, pil_to_qimage, read_thumbnail, rounded
from app.gui.search import current_token
from app.gui.settings import MAX_RECENT, AppSettings
from app.gui.statusbar import StatusBar
from app.gui.taglist import tag_rows
from core.browse import GridRow, TagSummary
from core.media.thumbnails import ThumbnailCache
from core.pipeline.indexer import IndexSummary
from core.pipeline.scanner import ScanReport


@pytest.mark.parametrize(
    ("text", "start", "word"),
    [
        ("", 0, ""),
        ("do", 0, "do"),
        ("beach -pupp", 7, "pupp"),
        ("(dog OR ca", 8, "ca"),
        ('"sports c', 1, "sports c"),
        ("label:=po", 7, "po"),
        ("unverified:ca", 11, "ca"),
        ("path:trips", 0, "path:trips"),
    ],
)
def test_current_token(text: str, start: int, word: str) -> None:
    assert current_token(text, len(text)) == (start, word)


def _summary(label: str, **kw: object) -> TagSummary:
    base = dict(
        label_id=1,
        label=label,
        path=("animal", label),
        threshold=0.3,
        photos=1,
        has=0,
        direct=0,
        verified=0,
        confirmed=0,
        rejected=0,
        by_user=0,
        score=None,
    )
    base.update(kw)
    return TagSummary(**base)  # type: ignore[arg-type]


def test_tag_rows_lists_carried_then_near_misses_then_rejected() -> None:
    rows = tag_rows(
        [
            _summary("animal", has=1, direct=0, score=0.9),  # reached through a child: hidden
            _summary("cat", has=1, direct=1, score=0.9),
            _summary("dog", score=0.2),  # near miss
            _summary("fish", score=0.01),  # too weak to mention
            _summary("bird", rejected=1, score=0.5),
            _summary("Grandma", has=1, direct=1, confirmed=1, by_user=1),
        ]
    )
    assert [(r.label, r.state) for r in rows] == [
        ("cat", "on"),
        ("Grandma", "on"),
        ("dog", "maybe"),
        ("bird", "rejected"),
    ]
    assert [r.source_text() for r in rows] == [
        "model",
        "added by you",
        "below threshold",
        "rejected",
    ]
    many = tag_rows([_summary("cat", photos=12, has=7, direct=7, confirmed=2, score=0.8)])
    assert many[0].source_text() == "7 of 12 · 2 confirmed"


def test_settings_round_trip(tmp_path: Path) -> None:
    settings = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert settings.last_album is None and settings.recent_albums() == []
    for n in range(MAX_RECENT + 3):
        settings.remember_album(f"/albums/{n}")
    settings.remember_album("/albums/3")
    assert settings.recent_albums()[0] == "/albums/3"
    assert len(settings.recent_albums()) == MAX_RECENT
    settings.forget_album("/albums/3")
    assert settings.last_album is None and "/albums/3" not in settings.recent_albums()
    settings.thumb_size = 1000
    assert settings.thumb_size == 320  # clamped


def test_thumbnails_come_from_the_cache_or_are_made_once(
    tmp_path: Path, real_photo_paths, qtbot
) -> None:
    album = tmp_path / "album"
    album.mkdir()
    src = real_photo_paths["chelsea"]
    (album / "cat.png").write_bytes(src.read_bytes())
    stat = (album / "cat.png").stat()
    row = GridRow(1, "cat.png", stat.st_size, stat.st_mtime_ns, "pending", None, False)
    cache = ThumbnailCache(tmp_path / "thumbs")
    image = read_thumbnail(album, cache, row)
    assert max(image.width(), image.height()) == cache.size
    assert cache.get("cat.png", stat.st_size, stat.st_mtime_ns) is not None
    again = read_thumbnail(album, cache, row)  # now read back from the disk cache
    assert (again.width(), again.height()) == (image.width(), image.height())
    small = rounded(image, 100, 6.0)
    assert max(small.width(), small.height()) == 100
    assert small.pixelColor(0, 0).alpha() == 0  # the corner is cut off
    loader = ImageLoader(workers=1)
    try:
        loader.configure(album, cache, 120)
        assert loader.pixmap(row) is None
        with qtbot.waitSignal(loader.thumbnail_loaded, timeout=10_000):
            pass
        assert loader.pixmap(row) is not None
        broken = GridRow(2, "missing.jpg", 10, 1, "pending", None, False)
        with qtbot.waitSignal(loader.thumbnail_failed, timeout=10_000) as failed:
            loader.pixmap(broken)
        assert failed.args[0] == 2 and "not found" in failed.args[1]
    finally:
        loader.close()


def test_pil_to_qimage_copies_the_pixels() -> None:
    from PIL import Image

    image = Image.new("RGB", (3, 2), (10, 200, 30))
    qimage = pil_to_qimage(image)
    del image
    assert qimage.format() == QImage.Format.Format_RGB888
    assert qimage.pixelColor(2, 1).getRgb()[:3] == (10, 200, 30)


_REFERENCE_CHECK = """
import sys
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel

class Emitter(QObject):
    happened = Signal(int)

app = QApplication([])
label, emitter = QLabel(), Emitter()
emitter.happened.connect(lambda _: None)
before = sys.getrefcount(None), sys.getrefcount(True)
for _ in range(100_000):
    label.setText("x")  # a wrapped void method
    label.setVisible(False)
    emitter.happened.emit(1)
print(sys.getrefcount(None) - before[0], sys.getrefcount(True) - before[1])
"""


def test_void_calls_and_signals_keep_the_reference_counts_of_none_and_true() -> None:
    """PySide6 6.12.0 on CPython 3.11 dropped a reference to None on every void call (and to
    True on every emit) until the process aborted; pyproject pins a version without the bug.
    Run in a child process, so a version with the bug fails this test instead of the run."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _REFERENCE_CHECK],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, f"the child died: {done.stderr[-500:]}"
    none_delta, true_delta = map(int, done.stdout.split())
    assert abs(none_delta) <= 10 and abs(true_delta) <= 10


def test_the_status_bar_says_how_many_photos_an_interrupted_run_left(qtbot) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.summarise(IndexSummary(scan=ScanReport(files=9, unchanged=4, resumed=3), tagged=5))
    assert bar.message.text().strip() == (
        "Indexing: Tagged 5 photos, 3 resumed from an interrupted run."
    )
    bar.summarise(IndexSummary(scan=ScanReport(files=9, unchanged=9), tagged=1))
    assert "resumed" not in bar.message.text()  # nothing left waiting: not mentioned
    bar.stop()


def test_the_retrain_result_says_what_became_of_the_version_once(qtbot):
    """The first line names the outcome and then the trainer's reason without repeating it
    ("Version 3 is now active. activated: …" read twice)."""
    from PySide6.QtWidgets import QLabel

    from app.gui.retraining import RetrainResultDialog, verdict_line

    reason = (
        "activated: 15 photos with your verdicts are too few to compare the versions on "
        "(F1 0.947 vs 0.974); the new one holds all your corrections"
    )
    dialog = RetrainResultDialog({"version": 3, "activated": True, "reason": reason})
    qtbot.addWidget(dialog)
    head = dialog.findChildren(QLabel)[0].text()
    assert head.startswith("Version 3 is now active: 15 photos") and "activated" not in head
    kept = "kept the active version: the new one is worse on tags you verified (F1 0.5 vs 0.6)"
    assert verdict_line(4, False, kept) == (
        "Version 4 was not activated: the new one is worse on tags you verified (F1 0.5 vs 0.6)"
    )
    forced = "activated because you asked for it (--force)"
    assert (
        verdict_line(5, True, forced)
        == "Version 5 is now active because you asked for it (--force)"
    )


def test_the_retrain_result_flags_labels_whose_new_tags_the_training_doubts(qtbot) -> None:
    from app.gui.retraining import RetrainResultDialog

    labels = [
        {
            "label": "sky",
            "confirmed": 30,
            "rejected": 2,
            "threshold": 0.46,
            "estimated_precision": 0.9,
            "tagged_before": 40,
            "tagged_after": 52,
            "source": "verified",
        },
        {
            "label": "people",
            "confirmed": 20,
            "rejected": 5,
            "threshold": 0.19,
            "estimated_precision": 0.39,
            "tagged_before": 0,
            "tagged_after": 108,
            "source": "verified",
        },
    ]
    dialog = RetrainResultDialog(
        {"version": 2, "activated": True, "reason": "better", "labels": labels}
    )
    qtbot.addWidget(dialog)
    # the label to review comes first, whatever the trainer's order
    assert [dialog.labels.item(row, 0).text() for row in range(2)] == ["people", "sky"]
    tagged = [dialog.labels.item(row, 4).text() for row in range(2)]
    assert tagged == ["0 → 108 (review)", "40 → 52"]
    assert "fewer than half" in dialog.labels.item(0, 4).toolTip()
    assert not dialog.review.isHidden()
    assert dialog.review.text().startswith('Review <a href="people">people</a> (0 → 108 photos)')
    assert dialog.review.text().endswith("Click a label to review it in teach mode.")
    asked: list[str] = []
    dialog.teach_requested.connect(asked.append)
    dialog.review.linkActivated.emit("people")  # what a click on the name sends
    assert asked == ["people"]
    odd = dict(labels[1], label="Grandma & co")  # a user's label: escaped, quoted, read back
    shown = RetrainResultDialog({"version": 4, "activated": True, "reason": "ok", "labels": [odd]})
    qtbot.addWidget(shown)
    assert '<a href="Grandma%20%26%20co">Grandma &amp; co</a>' in shown.review.text()
    shown.teach_requested.connect(asked.append)
    shown.review.linkActivated.emit("Grandma%20%26%20co")
    assert asked[-1] == "Grandma & co"
    calm = RetrainResultDialog(
        {"version": 3, "activated": True, "reason": "ok", "labels": labels[:1]}
    )
    qtbot.addWidget(calm)
    assert calm.review.isHidden()


def test_the_retrain_result_says_which_labels_their_spread_cap_holds_back(qtbot) -> None:
    from app.gui.retraining import RetrainResultDialog

    rock = {
        "label": "rock",
        "confirmed": 5,
        "rejected": 0,
        "threshold": 0.62,
        "estimated_precision": 0.71,
        "tagged_before": 0,
        "tagged_after": 105,
        "source": "confirm-only",
        "spread_cap": 100,
    }
    free = dict(rock, label="forest", confirmed=12, spread_cap=None, tagged_after=40)
    dialog = RetrainResultDialog(
        {"version": 2, "activated": True, "reason": "better", "labels": [rock, free]}
    )
    qtbot.addWidget(dialog)
    assert [dialog.labels.item(row, 4).text() for row in range(2)] == [
        "0 → 105 (capped)",
        "0 → 40",
    ]
    assert "at most 100 photos you have not judged" in dialog.labels.item(0, 4).toolTip()
    assert dialog.labels.item(1, 4).toolTip() == ""
    assert not dialog.capped.isHidden()
    assert dialog.capped.text().startswith("Taught from few photos, rock tags at most 100 photos")
    older = RetrainResultDialog(  # an older version's rows have no spread_cap at all
        {"version": 1, "activated": True, "reason": "ok", "labels": [dict(free, label="x")]}
    )
    qtbot.addWidget(older)
    assert older.capped.isHidden()

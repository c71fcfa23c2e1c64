"""Indexing in the window against ``albumtag index``: photos/s on the same folder, real model.

    .venv/bin/python -m benchmarks.bench_window_index [--photos 100] [--rounds 3] [--no-before]

The folder is ``--photos`` 12 MP camera JPEGs (``benchmarks.photo_folder``). Each run starts on
a fresh data directory (nothing indexed, default model, faces on), one run after the other:

* ``cli``: ``albumtag index FOLDER --data-dir DIR --json`` in a subprocess (every core);
* ``window``: the window (offscreen, 1440x900) opens the folder and nobody touches it, so its
  indexing child process (``app.indexchild``) runs on every core;
* ``window, before``: indexing on a thread of the window with every core but one, as the window
  did before issue 17 (``--no-before`` leaves it out).

Per run: seconds from the start (the command's process start, ``open_album``) until indexing
ended; photos/s over that; photos/s of the tagging phase alone (the run's own summary: decoding
and the model, without start-up, model load and scan). For the window runs, the GUI thread's
longest gap between two ticks of a 5 ms timer while indexing ran (wall clock: on a shared
machine it includes waiting for a CPU). The ratios window / cli (the median of each round's
own ratio) are printed last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def run_cli(folder: Path, data: Path) -> dict:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "app", "index", str(folder), "--data-dir", str(data), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    summary = json.loads(out.stdout)
    return {
        "seconds": seconds,
        "tagged": summary["tagged"],
        "tag_rate": summary["photos_per_second"],
    }


def run_window(folder: Path, data: Path, *, before: bool) -> dict:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.gui.session import AlbumSession, _default_indexer
    from app.gui.settings import AppSettings
    from app.gui.theme import apply_theme
    from benchmarks.bench_responsiveness import pump, wait_until
    from core.library import Library
    from tests.app.ticks import TickCounter

    app = QApplication.instance() or QApplication([])
    apply_theme(app)
    settings = AppSettings(
        QSettings(str(data.parent / f"{data.name}.ini"), QSettings.Format.IniFormat)
    )
    session = AlbumSession(
        library_factory=lambda path: Library(path, data),
        indexer_factory=_default_indexer if before else None,
        watch=False,
    )
    ends: list[object] = []
    session.indexing_finished.connect(ends.append)
    window = MainWindow(settings, session)
    window.resize(1440, 900)
    window.show()
    pump(200)
    started = time.perf_counter()
    with TickCounter() as ticks:
        window.open_album(folder)
        wait_until(lambda: bool(ends), 3600.0)
    seconds = time.perf_counter() - started
    window.close()
    summary = ends[0]
    if summary is None:
        raise RuntimeError("indexing in the window failed")
    return {
        "seconds": seconds,
        "tagged": summary.tagged,
        "tag_rate": summary.photos_per_second,
        "longest_gap_ms": round(ticks.longest_gap * 1000),
        "p99_gap_ms": round(sorted(ticks.gaps)[int(len(ticks.gaps) * 0.99)] * 1000),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="each run once per round, the rounds one after the other",
    )
    parser.add_argument("--no-before", action="store_true")
    args = parser.parse_args(argv)
    from benchmarks.photo_folder import build

    folder = build(args.photos)
    print(
        f"indexing in the window against the command line: {args.photos} photos of 12 MP, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results: dict[str, list[dict]] = {}
    runs = [("cli", None), ("window", False)] + (
        [] if args.no_before else [("window, before", True)]
    )
    with tempfile.TemporaryDirectory(prefix="albumtag-window-") as tmp:
        for round_ in range(args.rounds):
            for n, (name, before) in enumerate(runs):
                data = Path(tmp) / f"data{round_}-{n}"
                r = (
                    run_cli(folder, data)
                    if before is None
                    else run_window(folder, data, before=before)
                )
                results.setdefault(name, []).append(r)
                gaps = (
                    f"; GUI tick gap longest {r['longest_gap_ms']} ms, p99 {r['p99_gap_ms']} ms"
                    if "longest_gap_ms" in r
                    else ""
                )
                print(
                    f"  round {round_ + 1} {name:15s} {r['tagged']} tagged in "
                    f"{r['seconds']:.1f} s: {r['tagged'] / r['seconds']:.2f} photos/s start "
                    f"to end, tagging phase {r['tag_rate']:.2f} photos/s{gaps} (load "
                    f"{os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    cli = results["cli"]
    for name in [k for k in results if k != "cli"]:
        ends = [c["seconds"] / r["seconds"] for c, r in zip(cli, results[name], strict=True)]
        tags = [
            r["tag_rate"] / max(c["tag_rate"], 1e-9)
            for c, r in zip(cli, results[name], strict=True)
        ]
        print(
            f"  {name} / cli, median of the rounds' own ratios: start to end "
            f"{statistics.median(ends):.2f}, tagging phase {statistics.median(tags):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

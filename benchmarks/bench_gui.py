"""The window on a 100,000-photo album: launch to first painted grid, memory while scrolling.

    python benchmarks/bench_gui.py [--photos 100000] [--out benchmarks/out] [--stride 1]

Builds (once, cached under ``--out``) a synthetic album: ``--photos`` files that are hard links
to the real test photos (scikit-image and foolbox samples, so thumbnails are real decodes),
spread over folders of 1,000, indexed through core's scanner and given model scores the way
the indexer stores them (a fake scorer: no torch needed). Then, in a fresh process each time:

* launch → first paint: from the process's start (as the kernel recorded it) until the grid's
  viewport has painted rows of the album, with the window doing what it always does on open
  (scan the folder in the background, watch it);
* scrolling: one screen per step (``--stride`` screens) from the top to the bottom of the
  grid, letting the event loop run 10 ms per step; resident memory (RSS) sampled along the
  way, and each step's repaint time;
* the window's search path in the reconciling process: ``core.browse.grid_ids`` for
  ``animal`` (the ordered ids) and the rows of its first screen, the first time after opening
  and then the median of 5.

Prints a small report (and ``--json`` for a machine). Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LABELS = (
    "cat",
    "dog",
    "beach",
    "coffee",
    "car",
    "bird",
    "flower",
    "mountain",
    "person",
    "rocket",
    "bread",
    "church",
)


# -- the synthetic album ---------------------------------------------------------------------
def _sources() -> list[Path]:
    import importlib.util

    out = []
    for name in ("skimage", "foolbox"):
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            folder = Path(next(iter(spec.submodule_search_locations))) / "data"
            out += sorted(folder.glob("imagenet_*.jpg")) + [
                folder / n
                for n in ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg")
                if (folder / n).exists()
            ]
    if not out:
        sys.exit("needs scikit-image or foolbox for real photos (run the README's test setup)")
    return out


def build_album(album: Path, photos: int) -> None:
    """Files, scan and scores for a synthetic album (skipped when already built)."""
    import numpy as np

    from core.db.store import Status
    from core.db.tagstore import Scored
    from core.library import Library
    from core.pipeline.scanner import reconcile

    marker = album / ".albumtag" / f"built-{photos}"
    if marker.exists():
        return
    started = time.perf_counter()
    sources = _sources()
    for i in range(photos):
        folder = album / f"{2000 + i // 5000}" / f"roll-{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        src = sources[i % len(sources)]
        target = folder / f"IMG_{i:06d}{src.suffix}"
        if not target.exists():
            os.link(src, target)
    print(f"  {photos:,} files linked in {time.perf_counter() - started:.1f} s", flush=True)
    if photos > 200_000:
        bulk_store(album)
        marker.write_text("ok")
        return
    with Library(album) as library:
        store = library.store
        if not store.models():
            store.add_model(0, "synthetic@1", None, {}, {"kind": "prior"}, activate=True)
        t = time.perf_counter()
        report = reconcile(album, store)
        print(f"  scanned {report.files:,} files in {time.perf_counter() - t:.1f} s", flush=True)
        ids = library.label_ids()
        columns = [ids[n] for n in LABELS]
        rng = np.random.default_rng(7)
        pending = store.photos(Status.PENDING)
        t = time.perf_counter()
        for start in range(0, len(pending), 2000):
            batch = []
            for row in pending[start : start + 2000]:
                scores = np.zeros(len(columns), np.float32)
                scores[rng.integers(0, len(columns), 2)] = rng.uniform(0.2, 0.95, 2)
                batch.append(Scored(row.id, 640, 480, None, f"h{row.id}", scores, None))
            store.record_scores(batch, columns, "synthetic@1", 0)
        print(f"  scored in {time.perf_counter() - t:.1f} s", flush=True)
    marker.write_text("ok")


def bulk_store(album: Path) -> None:
    """The store of a large album, written in bulk: the rows a first scan and tagging leave.

    The files are walked as the scanner walks them (so their sizes and times are the real
    ones and a later scan finds nothing changed), then photos and scores are inserted with
    ``executemany`` in transactions of 50,000 photos (``synchronous = OFF`` for the build only)
    — the one-photo-at-a-time scan and tagging would take most of an hour at a million.
    """
    import numpy as np

    from core.db.store import now
    from core.library import Library
    from core.paths import to_db
    from core.pipeline.scanner import walk

    started = time.perf_counter()
    with Library(album) as library:
        store = library.store
        if not store.models():
            store.add_model(0, "synthetic@1", None, {}, {"kind": "prior"}, activate=True)
        ids = library.label_ids()
        columns = np.array([ids[n] for n in LABELS], dtype=np.int64)
        rng = np.random.default_rng(7)
        stamp = now()
        store.db._writer.execute("PRAGMA synchronous = OFF")
        entries = walk(album)
        pid = 0
        while chunk := [e for _, e in zip(range(50_000), entries, strict=False)]:
            pids = np.arange(pid + 1, pid + 1 + len(chunk))
            pid += len(chunk)
            picks = rng.integers(0, len(columns), size=(len(chunk), 2))
            scores = rng.uniform(0.2, 0.95, size=(len(chunk), 2))
            labels = [
                (int(p), int(columns[a]), float(sa), stamp)
                for p, (a, b), (sa, sb) in zip(pids, picks, scores, strict=True)
            ]
            labels += [
                (int(p), int(columns[b]), float(sb), stamp)
                for p, (a, b), (sa, sb) in zip(pids, picks, scores, strict=True)
                if a != b
            ]
            with store.db.write() as db:
                db.conn.executemany(
                    "INSERT INTO photos (id, path, size, mtime_ns, content_hash, width, height, "
                    "status, model_version, added_at) VALUES (?, ?, ?, ?, ?, 640, 480, 'ok', 0, ?)",
                    [
                        (int(p), to_db(e.rel_path), e.size, e.mtime_ns, f"h{p}", stamp)
                        for p, e in zip(pids, chunk, strict=True)
                    ],
                )
                db.conn.executemany(
                    "INSERT INTO photo_labels (photo_id, label_id, score, verdict, source, "
                    "updated_at) VALUES (?, ?, ?, 0, 'model', ?)",
                    sorted(labels),
                )
        store.refresh_all_tags()
        store.db._writer.execute("PRAGMA synchronous = NORMAL")
        store.db._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(
        f"  {pid:,} photos stored and scored in bulk in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def reconcile_child(album: Path) -> dict:
    """Open the album and bring it in line with its unchanged folder (stat only); then the
    window's search path for ``animal`` (core.browse.grid_ids, the rows of a first screen)."""
    from core.library import Library
    from core.pipeline.scanner import reconcile

    started = time.perf_counter()
    with Library(album) as library:
        opened = time.perf_counter() - started
        report = reconcile(album, library.store)
        total = time.perf_counter() - started
        search = _window_search(library, "animal")
    return {
        "open_s": round(opened, 2),
        "reconcile_s": round(total - opened, 2),
        "files": report.files,
        "new": report.new,
        "missing": report.missing,
        "rss_mb": round(_rss_mb(), 1),
        **search,
    }


def _window_search(library, text: str, repeats: int = 5) -> dict:
    """What the window does for a search: the ordered ids, then the first screen's rows."""
    from core import browse

    def once() -> tuple[float, float, int]:
        t = time.perf_counter()
        ids = browse.grid_ids(library, text, order=browse.Order.TAKEN)
        full = time.perf_counter() - t
        browse.grid_rows_by_ids(library, ids[:400])
        return full, time.perf_counter() - t, len(ids)

    cold = once()  # the first search after opening: the album's order and the term are read
    warm = sorted(once() for _ in range(repeats))
    median = warm[len(warm) // 2]
    return {
        "search": text,
        "search_hits": cold[2],
        "search_cold_ids_ms": round(cold[0] * 1000, 1),
        "search_cold_first_screen_ms": round(cold[1] * 1000, 1),
        "search_ids_ms": round(median[0] * 1000, 1),
        "search_first_screen_ms": round(median[1] * 1000, 1),
    }


# -- the measured child process ----------------------------------------------------------
def _process_start_epoch() -> float:
    """When the kernel started this process (seconds since the epoch), on Linux."""
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return time.time() - uptime + start_ticks / os.sysconf("SC_CLK_TCK")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(album: Path, settings_dir: Path, scroll: bool, expected: int, stride: int = 1) -> dict:
    started = _process_start_epoch()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QSettings, QTimer

    from app.gui.launcher import application
    from app.gui.main_window import MainWindow
    from app.gui.settings import AppSettings

    app = application()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    settings = AppSettings(QSettings(str(settings_dir / "bench.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings)
    window.resize(1440, 900)
    result: dict = {}
    loop = QEventLoop()  # not app.exec(): quitting the application closes its windows

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt's name
            if (
                event.type() == QEvent.Type.Paint
                and "first_paint_s" not in result
                and window.grid.photo_model().rowCount() > 0
                and window.grid.isVisible()
            ):
                QTimer.singleShot(0, self.done)  # after this paint has finished
            return False

        def done(self) -> None:
            if "first_paint_s" not in result:
                result["first_paint_s"] = time.time() - started
                result["rows"] = window.grid.photo_model().rowCount()
                result["rss_after_first_paint_mb"] = round(_rss_mb(), 1)
                wait_for_all()

    def wait_for_all() -> None:  # the first screen comes first; then the whole album
        if window.grid.photo_model().rowCount() >= expected:
            result["all_rows_s"] = time.time() - started
            loop.quit()
        else:
            QTimer.singleShot(20, wait_for_all)

    watcher = FirstPaint()
    window.grid.viewport().installEventFilter(watcher)
    window.show()
    window.open_album(album)
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    if scroll and "first_paint_s" in result:
        result.update(_scroll(app, window, stride))
    window.close()
    return result


def _scroll(app, window, stride: int = 1) -> dict:
    """Page down from the top to the bottom, ``stride`` screens a step; RSS and repaint time
    along the way."""
    bar = window.grid.verticalScrollBar()
    page = max(1, window.grid.viewport().height()) * stride
    rss, paints, steps = [_rss_mb()], [], 0
    started = time.perf_counter()
    bar.setValue(0)
    while True:
        t = time.perf_counter()
        window.grid.viewport().repaint()
        paints.append(time.perf_counter() - t)
        end = time.perf_counter() + 0.010
        while time.perf_counter() < end:
            app.processEvents()
        steps += 1
        if steps % 50 == 0:
            rss.append(_rss_mb())
        if bar.value() >= bar.maximum():
            break
        bar.setValue(min(bar.maximum(), bar.value() + page))
    rss.append(_rss_mb())
    paints.sort()
    return {
        "scroll_steps": steps,
        "scroll_s": round(time.perf_counter() - started, 1),
        "rss_scroll_start_mb": round(rss[0], 1),
        "rss_scroll_peak_mb": round(max(rss), 1),
        "rss_scroll_end_mb": round(rss[-1], 1),
        "rss_scroll_quartiles_mb": [round(rss[int(len(rss) * q)], 1) for q in (0.25, 0.5, 0.75)],
        "pixmaps_cached_at_end": window.loader.cached_count(),
        "repaint_median_ms": round(paints[len(paints) // 2] * 1000, 2),
        "repaint_p99_ms": round(paints[int(len(paints) * 0.99)] * 1000, 2),
        "repaint_max_ms": round(paints[-1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--launches", type=int, default=3, help="launch measurements")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--stride", type=int, default=1, help="screens per scrolling step (1: every screen)"
    )
    parser.add_argument(
        "--child", choices=["launch", "scroll", "reconcile"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    album = args.out / f"album-{args.photos}"
    settings_dir = args.out / "settings"
    if args.child:
        settings_dir.mkdir(parents=True, exist_ok=True)
        if args.child == "reconcile":
            print(json.dumps(reconcile_child(album)))
            return
        print(
            json.dumps(child(album, settings_dir, args.child == "scroll", args.photos, args.stride))
        )
        return
    print(f"albumtag GUI benchmark: {args.photos:,} photos", flush=True)
    album.mkdir(parents=True, exist_ok=True)
    build_album(album, args.photos)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")

    def run(kind: str) -> dict:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--photos",
                str(args.photos),
                "--out",
                str(args.out),
                "--child",
                kind,
                "--stride",
                str(args.stride),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=1800,
        )
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode or not lines:
            sys.exit(f"the measured window failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
        return json.loads(lines[-1])

    scan = run("reconcile")
    launches = [run("launch") for _ in range(args.launches)]
    scroll = run("scroll")
    firsts = sorted(r["first_paint_s"] for r in launches)
    alls = sorted(r["all_rows_s"] for r in launches)
    report = {
        "photos": args.photos,
        "cpus": os.cpu_count(),
        "launch_to_first_paint_s": [round(x, 2) for x in firsts],
        "launch_to_first_paint_median_s": round(firsts[len(firsts) // 2], 2),
        "rows_at_first_paint": launches[0]["rows"],
        "launch_to_all_rows_listed_median_s": round(alls[len(alls) // 2], 2),
        "rss_after_first_paint_mb": launches[0]["rss_after_first_paint_mb"],
        **scroll,
        "open_album_s": scan["open_s"],
        "reconcile_unchanged_s": scan["reconcile_s"],
        "reconcile_files": scan["files"],
        "reconcile_changes": scan["new"] + scan["missing"],
        "reconcile_rss_mb": scan["rss_mb"],
        "stride": args.stride,
        **{k: v for k, v in scan.items() if k.startswith("search")},
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"  launch → first painted grid: median {report['launch_to_first_paint_median_s']} s "
        f"(runs: {report['launch_to_first_paint_s']}), the first "
        f"{report['rows_at_first_paint']:,} rows; all {args.photos:,} listed after "
        f"{report['launch_to_all_rows_listed_median_s']} s"
    )
    print(
        f"  memory: {report['rss_after_first_paint_mb']} MB after first paint; while "
        f"scrolling top to bottom ({scroll['scroll_steps']:,} screens, {scroll['scroll_s']} s)"
        f": start {scroll['rss_scroll_start_mb']} MB, peak {scroll['rss_scroll_peak_mb']} MB,"
        f" end {scroll['rss_scroll_end_mb']} MB ({scroll['pixmaps_cached_at_end']} pixmaps; at"
        f" 1/4, 1/2, 3/4 of the way: {scroll['rss_scroll_quartiles_mb']} MB)"
    )
    print(
        f"  opening the album and reconciling its unchanged folder (stat only, a fresh "
        f"process): open {report['open_album_s']} s + scan {report['reconcile_unchanged_s']} s"
        f" for {report['reconcile_files']:,} files ({report['reconcile_changes']} changes found;"
        f" RSS {report['reconcile_rss_mb']} MB)"
    )
    print(
        f"  repaint per screen: median {scroll['repaint_median_ms']} ms, p99 "
        f"{scroll['repaint_p99_ms']} ms, max {scroll['repaint_max_ms']} ms"
        + (f" (every {args.stride}th screen)" if args.stride > 1 else "")
    )
    print(
        f"  the window's search '{report['search']}' ({report['search_hits']:,} photos; "
        f"core.browse.grid_ids + the first 400 rows): first after opening "
        f"{report['search_cold_ids_ms']} ms ids, {report['search_cold_first_screen_ms']} ms "
        f"with the first screen; then median {report['search_ids_ms']} ms ids, "
        f"{report['search_first_screen_ms']} ms with the first screen"
    )
    print(f"  load average at the end: {report['load_average']}")


if __name__ == "__main__":
    main()

"""Without Qt's platform libraries the window says in one line what to install (issue 15.13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.qtcheck import (
    missing_libraries,
    missing_message,
    package_for,
    platform_problem,
    plugin_dir,
)

REPO = Path(__file__).resolve().parents[2]

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007f56)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibQt6Gui.so.6 => /venv/PySide6/Qt/lib/libQt6Gui.so.6 (0x00007f55)
\tlibxcb-cursor.so.0 => not found
"""


def test_missing_libraries_and_their_packages() -> None:
    missing = missing_libraries(LDD_OUTPUT)
    assert missing == ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
    assert [package_for(lib) for lib in missing] == ["libxcb-cursor0", "libxcb-icccm4"]
    assert package_for("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert package_for("libfoo2.so.3") == "libfoo2-3"  # Debian's rule for unknown ones
    assert package_for("libbar.so.7") == "libbar7"


def test_the_message_is_one_line_naming_the_packages() -> None:
    line = missing_message("xcb", ["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    assert "\n" not in line
    assert line.startswith("albumtag: cannot open the window")
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in line
    assert "libxcb-cursor.so.0" in line and "xcb" in line


def test_platform_problem_follows_the_platform_qt_will_use(tmp_path: Path) -> None:
    for name in ("xcb", "wayland", "offscreen"):
        (tmp_path / f"libq{name}.so").write_bytes(b"")
    broken = {"libqxcb.so": LDD_OUTPUT, "libqwayland.so": LDD_OUTPUT}

    def ldd(library: Path) -> str:
        return broken.get(library.name, "\tlibc.so.6 => /lib/libc.so.6 (0x1)\n")

    x11 = {"DISPLAY": ":0"}
    assert "libxcb-cursor0" in platform_problem(x11, tmp_path, ldd)
    assert platform_problem({"QT_QPA_PLATFORM": "offscreen"}, tmp_path, ldd) is None
    assert "no display" in platform_problem({}, tmp_path, ldd)
    # on Wayland with the X11 fallback: a problem only when neither plugin can load
    both = {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}
    assert "wayland" in platform_problem(both, tmp_path, ldd)
    broken.pop("libqwayland.so")
    assert platform_problem(both, tmp_path, ldd) is None
    assert platform_problem(x11, tmp_path, lambda _: "") is None  # no ldd: cannot tell


def test_the_real_plugin_is_found() -> None:
    folder = plugin_dir()
    assert folder is not None and (folder / "libqxcb.so").is_file()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd is Linux's")
def test_albumtag_prints_one_line_instead_of_qts_abort(tmp_path: Path) -> None:
    """The real command, with an ``ldd`` that reports libxcb-cursor0 missing."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ldd").write_text("#!/bin/sh\necho '\tlibxcb-cursor.so.0 => not found'\n")
    (fake / "ldd").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":99", PATH=f"{fake}{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "app", "gui", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "sudo apt install libxcb-cursor0" in lines[0]


def test_the_check_imports_no_qt_module() -> None:
    code = (
        "import sys, app.qtcheck; app.qtcheck.platform_problem(); "
        "print([m for m in sys.modules if m.startswith('PySide6')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"

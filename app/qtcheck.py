"""Before Qt starts: can its platform plugin load here? If not, one line that says what to install.

Without the X11 helper libraries (libxcb-cursor0 and friends) Qt aborts with "could not load the
Qt platform plugin xcb" and a core dump. ``platform_problem`` looks first: it asks the dynamic
linker (``ldd``) which of the plugin's shared libraries are missing and names the Debian/Ubuntu
packages that hold them. No Qt module is imported here, so the check runs even when QtGui itself
cannot load.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

#: Libraries Qt's xcb and wayland plugins need, by soname → the Debian/Ubuntu package.
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}
"""Every library in this table is one the README lists under "The window needs"."""

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
_SONAME = re.compile(r"^(lib.+?)\.so\.(\d+)")

Ldd = Callable[[Path], str]


def package_for(soname: str) -> str:
    """The Debian/Ubuntu package holding a library (known ones, else Debian's naming rule)."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    match = _SONAME.match(soname)
    if not match:
        return soname
    name, version = match.group(1).lower(), match.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def missing_libraries(ldd_output: str) -> list[str]:
    """The libraries ``ldd`` reported as "not found", each once, in its order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd_output)))


def missing_message(platform: str, libraries: list[str]) -> str:
    """The one line printed instead of Qt's abort."""
    packages = list(dict.fromkeys(package_for(lib) for lib in libraries))
    return (
        f"albumtag: cannot open the window: Qt's {platform} platform needs system libraries "
        f"that are not installed ({', '.join(libraries)}); install "
        f"{'it' if len(packages) == 1 else 'them'} with: sudo apt install "
        f"{' '.join(packages)}  (Debian/Ubuntu names; the README lists the others)"
    )


def no_display_message() -> str:
    return (
        "albumtag: cannot open the window: no display (neither DISPLAY nor WAYLAND_DISPLAY "
        "is set); run it in a desktop session, or use the command line (albumtag --help)"
    )


def plugin_dir() -> Path | None:
    """PySide6's Qt platform plugins folder, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms"
    return folder if folder.is_dir() else None


def _run_ldd(library: Path) -> str:
    ldd = shutil.which("ldd")
    if ldd is None:
        return ""
    try:
        done = subprocess.run(
            [ldd, str(library)], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout


def _platforms(env: Mapping[str, str]) -> list[str] | None:
    """The plugins Qt will try, in order; None when there is no display to try them on."""
    asked = env.get("QT_QPA_PLATFORM", "").strip()
    if asked:
        return [p.split(":", 1)[0].strip() for p in asked.split(";") if p.strip()]
    tried = []
    if env.get("WAYLAND_DISPLAY"):
        tried.append("wayland")
    if env.get("DISPLAY"):
        tried.append("xcb")
    return tried or None


def platform_problem(
    env: Mapping[str, str] | None = None, plugins: Path | None = None, ldd: Ldd = _run_ldd
) -> str | None:
    """Why Qt's platform plugin cannot start here (one line), or None when it can or we cannot
    tell. Only Linux is checked; ``ldd`` missing means "cannot tell"."""
    if not sys.platform.startswith("linux"):
        return None
    env = os.environ if env is None else env
    platforms = _platforms(env)
    if platforms is None:
        return no_display_message()
    plugins = plugins or plugin_dir()
    if plugins is None:
        return None
    first: str | None = None
    for name in platforms:
        library = plugins / f"libq{name}.so"
        if not library.is_file():
            continue
        missing = missing_libraries(ldd(library))
        if not missing:
            return None  # this one loads: Qt will use it
        first = first or missing_message(name, missing)
    return first

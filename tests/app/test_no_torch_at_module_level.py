"""Lint: the window starts without torch, and the engine stays Qt-free.

* No module under ``app/`` imports torch, timm or torchvision at module level (inside a
  function — a worker — is allowed: that is where the model loads).
* No module under ``core/`` or ``trainer/`` imports PySide6 anywhere.
* No widget module under ``app/gui`` runs SQL, decodes images or touches torch.
* import-linter's contracts in pyproject.toml hold.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "timm", "torchvision")
#: Modules of app/gui that may decode images: the loader's worker threads.
DECODERS = {"imageloader.py"}
SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b", re.DOTALL
)


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def _module_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """Imports that run when the module is imported (top level, if/try blocks included)."""
    found: list[tuple[int, str]] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        found += [(node.lineno, name) for name in _imported(node)]
        if isinstance(node, ast.ClassDef):
            stack.extend(
                n for n in node.body if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            )
        else:
            stack.extend(ast.iter_child_nodes(node))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _root(name: str) -> str:
    return name.split(".")[0]


def test_app_imports_torch_only_inside_functions() -> None:
    offenders = []
    for path in _modules("app"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        offenders += [
            f"{path.relative_to(ROOT)}:{line} imports {name}"
            for line, name in _module_level_imports(tree)
            if _root(name) in HEAVY
        ]
    assert not offenders, "\n".join(offenders)


def test_core_and_trainer_never_import_qt() -> None:
    offenders = []
    for package in ("core", "trainer"):
        for path in _modules(package):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                for node in ast.walk(tree)
                for name in _imported(node)
                if _root(name) in ("PySide6", "PyQt6", "PyQt5", "shiboken6")
            ]
    assert not offenders, "\n".join(offenders)


def _database_use(path: Path, text: str, tree: ast.Module) -> list[str]:
    """SQL text in the module's string literals, or calls that reach the database directly."""
    rel = path.relative_to(ROOT)
    found = [
        f"{rel}:{node.lineno} holds SQL"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    ]
    if ".db.query" in text or ".execute(" in text or ".db.write(" in text:
        found.append(f"{rel} talks to the database directly")
    return found


def test_widgets_hold_no_sql_no_torch_no_decoding() -> None:
    offenders = []
    for path in _modules("app/gui"):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, str(path))
        names = {name for node in ast.walk(tree) for name in _imported(node)}
        if names & {"sqlite3", "sqlite_utils"} or any(_root(n) in HEAVY for n in names):
            offenders.append(f"{path.name} imports a database or torch module")
        if path.name not in DECODERS and (
            {"PIL", "core.media.imaging"} & names or any(n.startswith("PIL.") for n in names)
        ):
            offenders.append(f"{path.name} decodes images outside the loader's workers")
        offenders += _database_use(path, text, tree)
    assert not offenders, "\n".join(offenders)


def test_importing_the_window_does_not_load_torch() -> None:
    code = (
        "import sys, app.gui, app.gui.main_window; "
        "bad = [m for m in ('torch', 'timm', 'torchvision') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_linter_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter is not installed")
    result = subprocess.run(
        [exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_the_lint_catches_a_module_level_import(tmp_path: Path) -> None:
    source = (
        "import os\nif os:\n    import torch\n"
        "def worker():\n    import timm\n"
        "class A:\n    from torchvision import models\n"
    )
    found = [name for _, name in _module_level_imports(ast.parse(source))]
    assert "torch" in found and "torchvision" in found and "timm" not in found
    assert SQL.search("SELECT id FROM photos WHERE 1") and SQL.search("DELETE FROM tags")
    assert not SQL.search("Select photos first.") and not SQL.search("Update the tags")


def test_no_module_of_app_runs_sql() -> None:
    """The window and the command line both ask core: SQL lives in core/db and core/search."""
    offenders = []
    for path in _modules("app"):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, str(path))
        names = {name for node in ast.walk(tree) for name in _imported(node)}
        if names & {"sqlite3", "sqlite_utils"}:
            offenders.append(f"{path.relative_to(ROOT)} imports a database module")
        offenders += _database_use(path, text, tree)
    assert not offenders, "\n".join(offenders)


def test_the_sql_check_finds_sql() -> None:
    assert SQL.search("SELECT id FROM photos WHERE status = ?")
    assert SQL.search("UPDATE photos SET rating = 3")
    assert not SQL.search("Select the photos from the grid")

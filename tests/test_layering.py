"""The seam: the backend never imports Textual; screens and widgets never import libvirt."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).parent.parent / "vmtui"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def files(*parts: str) -> list[Path]:
    out = [p for part in parts for p in sorted((PKG / part).rglob("*.py"))]
    assert out, f"no Python files under {parts}"
    return out


@pytest.mark.parametrize("path", files("backend"), ids=lambda p: p.name)
def test_backend_never_imports_textual_or_rich(path: Path) -> None:
    assert not imported_modules(path) & {"textual", "rich"}, path


@pytest.mark.parametrize("path", files("screens", "widgets"), ids=lambda p: p.name)
def test_screens_and_widgets_never_import_libvirt(path: Path) -> None:
    assert not imported_modules(path) & {"libvirt", "libvirt_qemu", "libvirtmod"}, path


def test_the_checker_sees_both_import_forms(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import libvirt\nfrom textual.app import App\nif True:\n    import rich.text\n")
    assert {"libvirt", "textual", "rich"} <= imported_modules(bad)

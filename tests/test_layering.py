"""Imports run one way: core <- backend <- control <- widgets/screens <- app <- cli.

Every import counts, wherever it stands: at the top, inside a function, or under
``if TYPE_CHECKING:`` (a type-only import is still a dependency a reader must follow).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

PKG = Path(__file__).parent.parent / "vmtui"


def module_name(path: Path, root: Path = PKG) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module the file imports (``textual``, ``vmtui``, ...)."""
    return {name.split(".")[0] for name in imported_names(path)}


def imported_names(path: Path, known: Iterable[str] = (), root: Path = PKG) -> set[str]:
    """Dotted modules the file imports. ``from a.b import c`` counts as ``a.b.c`` when that is
    one of the ``known`` modules (a submodule), else as ``a.b``."""
    modules = set(known)
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x / from .x import y
                own = module_name(path, root)
                package = own if path.name == "__init__.py" else own.rpartition(".")[0]
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return found


def files(*parts: str) -> list[Path]:
    out = [p for part in parts for p in sorted((PKG / part).rglob("*.py"))]
    assert out, f"no Python files under {parts}"
    return out


def all_files(root: Path = PKG) -> list[Path]:
    return sorted(root.rglob("*.py"))


def vmtui_imports(path: Path) -> set[str]:
    known = {module_name(p) for p in all_files()}
    return {m for m in imported_names(path, known) if m == "vmtui" or m.startswith("vmtui.")}


def layer_of(module: str) -> str:
    """ "core", "backend", ..., or the module's own name for top-level ones ("app", "cli")."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _ids(path: Path) -> str:
    return str(path.relative_to(PKG))


# ------------------------------------------------------------------ third-party seams
@pytest.mark.parametrize("path", files("backend"), ids=_ids)
def test_backend_never_imports_textual_or_rich(path: Path) -> None:
    assert not imported_modules(path) & {"textual", "rich"}, path


@pytest.mark.parametrize("path", files("screens", "widgets"), ids=_ids)
def test_screens_and_widgets_never_import_libvirt(path: Path) -> None:
    assert not imported_modules(path) & {"libvirt", "libvirt_qemu", "libvirtmod"}, path


@pytest.mark.parametrize("path", files("core"), ids=_ids)
def test_core_imports_neither_textual_rich_nor_libvirt(path: Path) -> None:
    found = imported_modules(path) & {"textual", "rich", "libvirt", "libvirt_qemu", "psutil"}
    assert not found, f"{_ids(path)} imports {sorted(found)}: core is pure"


# ------------------------------------------------------------------ the layers
ALLOWED: dict[str, set[str]] = {
    # a layer -> the vmtui layers it may import (besides itself)
    "core": set(),
    "term": {"core"},
    "backend": {"core"},
    "control": {"core", "backend"},
    "widgets": {"core", "backend", "control", "term"},
    "screens": {"core", "backend", "control", "term", "widgets"},
}


@pytest.mark.parametrize("path", files(*ALLOWED), ids=_ids)
def test_each_layer_imports_only_the_layers_below_it(path: Path) -> None:
    layer = path.relative_to(PKG).parts[0]
    allowed = ALLOWED[layer] | {layer}
    wrong = sorted(m for m in vmtui_imports(path) if layer_of(m) not in allowed)
    assert not wrong, (
        f"{_ids(path)} ({layer}) imports {wrong}; {layer} may import only "
        f"{', '.join(sorted(allowed))}"
    )


@pytest.mark.parametrize("path", files("screens", "widgets", "control"), ids=_ids)
def test_nothing_below_the_app_imports_it(path: Path) -> None:
    found = {m for m in vmtui_imports(path) if m in ("vmtui.app", "vmtui.cli")}
    assert not found, f"{_ids(path)} imports {sorted(found)}: ask through control.services"


# ------------------------------------------------------------------ no circles at all
def import_graph(root: Path = PKG) -> dict[str, set[str]]:
    paths = all_files(root)
    known = {module_name(p, root) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        name = module_name(path, root)
        names = imported_names(path, known, root)
        graph[name] = {m for m in names if m in known and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_module_imports_itself_through_others() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


# ------------------------------------------------------------------ the checker itself
def test_the_checker_sees_every_import_form(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import libvirt\nfrom textual.app import App\nif True:\n    import rich.text\n"
        "def f():\n    from vmtui.app import VmtuiApp\n"
    )
    assert {"libvirt", "textual", "rich", "vmtui"} <= imported_modules(bad)


def test_the_cycle_finder_names_a_circle_and_passes_a_tree(tmp_path: Path) -> None:
    pkg = tmp_path / "vmtui"
    (pkg / "screens").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "screens" / "__init__.py").write_text("")
    (pkg / "app.py").write_text("from vmtui.screens.base import Base\n")
    (pkg / "screens" / "base.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vmtui.app import App\n"
    )
    (pkg / "screens" / "other.py").write_text("from vmtui.screens import base\n")
    graph = import_graph(pkg)
    assert graph["vmtui.screens.other"] == {"vmtui.screens.base"}  # a submodule, not the package
    assert find_cycle(graph) == ["vmtui.app", "vmtui.screens.base", "vmtui.app"]
    (pkg / "screens" / "base.py").write_text("class Base: ...\n")
    assert find_cycle(import_graph(pkg)) is None

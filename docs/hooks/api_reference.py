"""MkDocs hook: one API reference page per public rlnoise package, built from its ``__all__``.

The public API is what the packages export: every package under ``rlnoise``
(no ``_private`` part in its name) and each name in its ``__all__``. The pages
are generated at build time, so a name added to an ``__all__`` is in the next
build; nothing generated is committed, nothing can go stale.

Each object is rendered once, on the page of the package closest to where it is
defined (``rlnoise.NoiseSpec`` and ``rlnoise.core.NoiseSpec`` are one object,
rendered under ``rlnoise.core``); every other package that re-exports it links
there. ``tests/test_docs.py`` checks that every public name is on a page.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, NamedTuple

ROOT = "rlnoise"
#: Where the generated pages live inside the docs.
PAGE_DIR = "reference"


class Export(NamedTuple):
    """One name of one package's ``__all__`` and where its object is rendered."""

    package: str
    name: str
    canonical: str  # the identifier mkdocstrings renders: "<package>.<name>"

    @property
    def identifier(self) -> str:
        return f"{self.package}.{self.name}"


def public_packages(root: str = ROOT) -> list[str]:
    """The packages whose ``__all__`` is public API: ``root`` and its non-private sub-packages."""
    package = importlib.import_module(root)
    names = [root]
    for info in pkgutil.walk_packages(package.__path__, f"{root}."):
        if info.ispkg and not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _home(obj: Any, exporters: list[str]) -> str:
    """The exporting package closest to the module that defines ``obj``."""
    module = getattr(obj, "__module__", None) or ""
    inside = [p for p in exporters if module == p or module.startswith(f"{p}.")]
    if inside:
        return max(inside, key=len)
    # Constants and type aliases carry no module of ours: the most specific exporter.
    return sorted(exporters, key=lambda p: (-p.count("."), p))[0]


def public_exports(root: str = ROOT) -> list[Export]:
    """Every (package, name) of every public ``__all__``, with the page that renders it."""
    packages = {name: importlib.import_module(name) for name in public_packages(root)}
    pairs = [(p, n) for p, module in packages.items() for n in module.__all__]
    exporters: dict[tuple[str, int], list[str]] = {}
    for package, name in pairs:
        key = (name, id(getattr(packages[package], name)))
        exporters.setdefault(key, []).append(package)
    exports = []
    for package, name in pairs:
        obj = getattr(packages[package], name)
        home = _home(obj, exporters[(name, id(obj))])
        exports.append(Export(package, name, f"{home}.{name}"))
    return exports


def page_path(package: str, root: str = ROOT) -> str:
    """The docs path of ``package``'s page (the root package is the section's index)."""
    return f"{PAGE_DIR}/index.md" if package == root else f"{PAGE_DIR}/{package}.md"


def render_pages(root: str = ROOT) -> dict[str, str]:
    """Markdown for every public package's page, keyed by its docs path."""
    exports = public_exports(root)
    pages = {}
    for package in public_packages(root):
        own = [e for e in exports if e.package == package]
        lines = [
            f"# `{package}`",
            "",
            f"::: {package}",
            "    options:",
            "      members: false",
            "      show_root_heading: false",
            "      show_root_toc_entry: false",
            "",
        ]
        for export in own:
            if export.canonical == export.identifier:
                lines += [f"::: {export.identifier}", ""]
        elsewhere = [e for e in own if e.canonical != e.identifier]
        if elsewhere:
            lines += ["## Also exported here", "", "| name | documented as |", "|---|---|"]
            for export in elsewhere:
                lines.append(f"| `{export.name}` | [`{export.canonical}`][{export.canonical}] |")
            lines.append("")
        pages[page_path(package, root)] = "\n".join(lines)
    return pages


def on_files(files: Any, config: Any) -> Any:
    """MkDocs event: add the generated reference pages to the build."""
    from mkdocs.structure.files import File

    for path, content in render_pages().items():
        files.append(File.generated(config, path, content=content))
    return files

"""Griffe extension: read two habits of rlnoise's docstrings the way Sphinx would.

- A Google-style ``Example:`` section, which the Google style (Napoleon) accepts
  beside ``Examples:``. Griffe knows only the plural and renders the singular as
  an admonition of plain text: ``>>>`` lines lose their code formatting, and
  doctest output such as ``[a][b]`` reads as a Markdown link.
- Sphinx roles (``:class:`NoiseSpec```, ``:func:`~rlnoise.core.derive_seed```),
  which Markdown prints as they are written. They become code spans, showing
  what Sphinx shows (the last part of the name after ``~``).

The docstrings are rewritten at build time only; the sources stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE_HEADING = re.compile(r"^(\s*)Example:(\s*)$", flags=re.MULTILINE)
_SPHINX_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(~?)([^`]+)`")


def _role_as_code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def rewrite(docstring: str) -> str:
    """``docstring`` with ``Example:`` headings as ``Examples:`` and Sphinx roles as code.

    Example:
        >>> rewrite("See :class:`~rlnoise.core.NoiseSpec`.\\n\\nExample:\\n    >>> 1\\n    1")
        'See `NoiseSpec`.\\n\\nExamples:\\n    >>> 1\\n    1'
    """
    return _SPHINX_ROLE.sub(_role_as_code, _EXAMPLE_HEADING.sub(r"\1Examples:\2", docstring))


class DocstringMarkup(griffe.Extension):
    """Apply :func:`rewrite` to every docstring before it is parsed."""

    def _rewrite(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._rewrite(pkg)  # the top package gets no on_object event

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        self._rewrite(obj)

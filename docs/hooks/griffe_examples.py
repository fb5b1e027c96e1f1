"""Griffe extension: read a Google-style ``Example:`` section as ``Examples:``.

rlnoise's docstrings title their doctests ``Example:``, which the Google style
(Napoleon) accepts beside ``Examples:``. Griffe knows only the plural and would
render the singular as an admonition of plain text, so ``>>>`` lines would lose
their code formatting and doctest output such as ``[a][b]`` would read as a
Markdown link. Renaming the heading at build time keeps the sources as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE_HEADING = re.compile(r"^(\s*)Example:(\s*)$", flags=re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Turn every ``Example:`` section heading into ``Examples:`` before parsing."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE_HEADING.sub(r"\1Examples:\2", obj.docstring.value)

"""Reading YAML that a user hands in: plain data only, bounded in size, errors on one line.

Configs, evaluation grids and the files of a run directory (``config.yaml``,
``experiment.yaml``) are all read here; :func:`dump_yaml` writes what this
loader reads back unchanged.

:class:`ConfigLoader` is PyYAML's ``SafeLoader`` (no Python objects) with three changes:

- Aliases cannot blow a small file up ("billion laughs"): while the document is
  composed, every node's size *with its aliases expanded* is counted, and a
  document over :data:`MAX_NODES` values, nested deeper than :data:`MAX_DEPTH`,
  or holding an alias to a node that contains it is refused at once — before
  anything is built from it, so the check costs one pass over the file.
- Scientific notation without a dot is a number, as in YAML 1.2 (``1e5``,
  ``3e-4``); PyYAML's YAML 1.1 rules read it as a string, which RL Zoo
  configs work around with ``!!float 1e5``.
- A key given twice in one mapping is refused (PyYAML would keep the last).
- A tag that asks for a Python object (``!!python/object/apply:os.system``)
  is refused with its line and column, not PyYAML's four-line context.

Example:
    >>> load_yaml_text("total_timesteps: 1e5\\nlr: 3e-4", "config")
    {'total_timesteps': 100000.0, 'lr': 0.0003}
    >>> laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\\n" + "".join(
    ...     f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\\n"
    ...     for i in range(6))
    >>> load_yaml_text(laughs, "laughs.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: laughs.yaml:5:4: the document expands to more than 100000 values ...
    >>> load_yaml_text(dump_yaml({"kwargs": {"level": "1e5"}}), "config")  # a string stays one
    {'kwargs': {'level': '1e5'}}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "ConfigDumper",
    "ConfigLoader",
    "dump_yaml",
    "load_yaml_file",
    "load_yaml_text",
]

#: Values (scalars, lists, mappings) a document may hold once its aliases are expanded.
#: The largest shipped config or grid holds a few hundred.
MAX_NODES = 100_000
#: Nesting levels a document may have (a config needs about six).
MAX_DEPTH = 64
#: Size of a file read as a config or grid (pure-Python PyYAML parses about 1 MB/s).
MAX_BYTES = 1 << 20

_SCIENTIFIC = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with bounded alias expansion and YAML 1.2 scientific notation."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> size with aliases expanded
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Compose one node, counting its expanded size (PyYAML calls this for every node)."""
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:  # the anchored node is still being composed
                raise ComposerError(None, None, "an alias refers to a node that contains it", mark)
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nesting is deeper than {MAX_DEPTH} levels", mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            _refuse_duplicate_keys(node)
            children = [item for pair in node.value for item in pair]
        else:
            children = []
        size = 1 + sum(self._sizes[id(child)] for child in children)
        if size > MAX_NODES:
            raise ComposerError(
                None,
                None,
                f"the document expands to more than {MAX_NODES} values (aliases counted "
                "in full); a config never needs that many",
                mark,
            )
        self._sizes[id(node)] = size
        return node

    def construct_undefined(self, node: Node) -> Any:
        """Refuse every tag the safe schema does not know (``!!python/...`` and custom ones)."""
        tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
        raise ConstructorError(
            None,
            None,
            f"tag {tag!r} is not allowed: a config holds plain data (numbers, strings, "
            "lists, mappings), never Python objects",
            node.start_mark,
        )


def _refuse_duplicate_keys(node: MappingNode) -> None:
    """PyYAML keeps the last of two equal keys; in a config that hides a mistake."""
    seen: set[str] = set()
    for key, _ in node.value:
        if isinstance(key, ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
            if key.value in seen:
                raise ComposerError(None, None, f"duplicate key {key.value!r}", key.start_mark)
            seen.add(key.value)


class ConfigDumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes every string :class:`ConfigLoader` would read as a number.

    PyYAML's dumper writes the string ``"1e5"`` bare (to YAML 1.1 it is no
    number); :class:`ConfigLoader` would read it back as ``100000.0``.
    """


for _cls in (ConfigLoader, ConfigDumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _SCIENTIFIC, list("-+0123456789"))
ConfigLoader.add_constructor(None, ConfigLoader.construct_undefined)


def dump_yaml(data: Any) -> str:
    """YAML text of plain ``data``, keys in order, that :func:`load_yaml_text` reads back equal.

    Example:
        >>> print(dump_yaml({"name": "x", "lr": 3e-4, "seeds": [0, 1]}), end="")
        name: x
        lr: 0.0003
        seeds:
        - 0
        - 1
    """
    return yaml.dump(data, Dumper=ConfigDumper, sort_keys=False)


def load_yaml_text(text: str, where: str) -> Any:
    """Parse one YAML document with :class:`ConfigLoader`.

    Args:
        text: The YAML text.
        where: What to name in errors (a file path, ``--override key``).

    Raises:
        ValueError: Malformed YAML, an unknown tag, or a document too large or too
            deep; one line, with ``where:line:column`` when the position is known.
    """
    try:
        return yaml.load(text, Loader=ConfigLoader)  # ConfigLoader is a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        place = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark is not None else where
        problem = error.problem or error.context or "malformed YAML"
        if not isinstance(error, ComposerError | ConstructorError):
            problem = f"malformed YAML: {problem}"
        raise ValueError(f"{place}: {problem}") from None
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())
        raise ValueError(f"{where}: malformed YAML: {message}") from None
    except RecursionError:  # nesting that PyYAML's parser gives up on before the depth check
        raise ValueError(f"{where}: nesting is deeper than {MAX_DEPTH} levels") from None


def load_yaml_file(path: str | Path) -> Any:
    """Read a YAML file with :func:`load_yaml_text`; errors name the file.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A file over :data:`MAX_BYTES`, not UTF-8, or refused by
            :func:`load_yaml_text`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{path}: {size} bytes is too large for a config (at most {MAX_BYTES})")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    return load_yaml_text(text, str(path))

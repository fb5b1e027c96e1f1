"""Resumable results: one file per finished (run, condition) cell.

Each cell's episode returns and lengths are written as soon as the cell is
finished, atomically (temporary file, then ``os.replace``), under a name
derived from its *fingerprint*: everything that determines the numbers (model
weights, VecNormalize statistics, env, condition, seed, episode count, step
cap, device type, library versions). Starting the same run again reuses every
file whose content is intact and whose fingerprint matches; a file that is
truncated, unparsable, tampered with (checksum) or made for something else is
reported and recomputed, never mixed in.

Example:
    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> fp = {"condition": "clean", "n_episodes": 2}
    >>> path = store.save(fp, [1.0, 2.0], [1, 2])
    >>> store.load(fp)[0].tolist()
    [1.0, 2.0]
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.runs.files import write_text

__all__ = ["ResultStore", "fingerprint_key"]

FORMAT = 1


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def fingerprint_key(fingerprint: dict[str, Any]) -> str:
    """Short stable hash of a fingerprint (the cell's file name)."""
    return hashlib.sha256(_canonical(fingerprint).encode()).hexdigest()[:24]


def _checksum(fingerprint: Any, returns: Any, lengths: Any) -> str:
    payload = _canonical({"fingerprint": fingerprint, "returns": returns, "lengths": lengths})
    return hashlib.sha256(payload.encode()).hexdigest()


class ResultStore:
    """A directory of finished cells.

    Args:
        directory: Where cell files live (created on first save).

    Attributes:
        problems: One message per file found unusable (and recomputed) so far.
        reused: Number of cells loaded from disk so far.
        saved: Number of cells written so far.
        unsaved: One message per finished cell that could not be saved
            (non-finite returns: a file could not verify them); recomputed next time.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.problems: list[str] = []
        self.reused = 0
        self.saved = 0
        self.unsaved: list[str] = []

    def path(self, fingerprint: dict[str, Any]) -> Path:
        """File of the cell with this fingerprint."""
        return self.directory / f"cell-{fingerprint_key(fingerprint)}.json"

    def load(self, fingerprint: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
        """The saved ``(returns, lengths)`` of a cell, or ``None`` (absent or unusable).

        An unusable file is recorded in :attr:`problems` and left to be overwritten.
        """
        path = self.path(fingerprint)
        if not path.exists():
            return None
        problem = None
        try:
            content = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            problem = f"unreadable ({type(error).__name__}: {error})"
            content = None
        if content is not None:
            problem = self._check(content, fingerprint)
        if problem is not None:
            self.problems.append(f"{path}: {problem}; recomputing")
            return None
        self.reused += 1
        return (
            np.asarray(content["returns"], dtype=np.float64),
            np.asarray(content["lengths"], dtype=np.int64),
        )

    @staticmethod
    def _check(content: Any, fingerprint: dict[str, Any]) -> str | None:
        if not isinstance(content, dict) or content.get("format") != FORMAT:
            return "not a results file of this format"
        if content.get("fingerprint") != json.loads(_canonical(fingerprint)):
            return "written for a different model, env, condition or settings"
        returns, lengths = content.get("returns"), content.get("lengths")
        n = fingerprint.get("n_episodes")
        if not isinstance(returns, list) or not isinstance(lengths, list):
            return "missing returns or lengths"
        if n is not None and (len(returns) != n or len(lengths) != n):
            return f"holds {len(returns)} returns and {len(lengths)} lengths, expected {n}"
        if not all(isinstance(r, int | float) and math.isfinite(r) for r in returns):
            return "returns are not all finite numbers"
        if not all(isinstance(v, int) and v >= 0 for v in lengths):
            return "lengths are not all non-negative integers"
        if content.get("checksum") != _checksum(content["fingerprint"], returns, lengths):
            return "checksum mismatch (partial or edited file)"
        return None

    def save(self, fingerprint: dict[str, Any], returns: Any, lengths: Any) -> Path | None:
        """Write a finished cell atomically; returns its path.

        Returns ``None`` (and records the cell in :attr:`unsaved`) when a
        return is NaN or infinite: the file format holds finite numbers only.
        """
        returns = [float(r) for r in np.asarray(returns, dtype=np.float64).tolist()]
        lengths = [int(v) for v in np.asarray(lengths).tolist()]
        if not all(math.isfinite(r) for r in returns):
            self.unsaved.append(
                f"{self.path(fingerprint)}: not saved, its returns are not all finite; "
                "it will be recomputed next time"
            )
            return None
        plain = json.loads(_canonical(fingerprint))
        content = {
            "format": FORMAT,
            "fingerprint": plain,
            "returns": returns,
            "lengths": lengths,
            "checksum": _checksum(plain, returns, lengths),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        path = write_text(self.path(fingerprint), json.dumps(content))
        self.saved += 1
        return path

"""What makes two robustness reports the same evaluation, and the check before writing one.

``rlnoise evaluate --out DIR`` (and the demo) refuse to write a report into a
directory that holds the report of a different evaluation: the identity of an
evaluation is its env, condition names, runs (model group and weights digest),
episodes, seed and step cap.

Example:
    >>> identity = evaluation_identity(env="CartPole-v1", conditions=["clean"],
    ...                                runs=[("ppo", "abc")], n_episodes=2, seed=0, max_steps=None)
    >>> identity["runs"]
    [['ppo', 'abc']]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["REPORT_FORMAT", "check_report_directory", "evaluation_identity", "report_identity"]

REPORT_FORMAT = "rlnoise.robustness_report/1"


def evaluation_identity(
    *,
    env: str,
    conditions: list[str],
    runs: list[tuple[str, str]],
    n_episodes: int,
    seed: int,
    max_steps: int | None,
) -> dict[str, Any]:
    """What makes two reports the same evaluation: env, condition names, runs, episodes.

    Args:
        env: The env's name (its id, or the factory's name).
        conditions: Condition names in column order.
        runs: ``(model group, weights digest)`` per run, in row order.
        n_episodes: Episodes per (run, condition).
        seed: Episode reset seed base.
        max_steps: Step cap per episode.
    """
    return {
        "env": env,
        "conditions": list(conditions),
        "runs": [[group, digest] for group, digest in runs],
        "n_episodes": n_episodes,
        "seed": seed,
        "max_steps": max_steps,
    }


def report_identity(data: Any) -> dict[str, Any] | None:
    """:func:`evaluation_identity` of a loaded ``report.json`` (``None`` if it is not a report)."""
    try:
        if data.get("format") != REPORT_FORMAT:
            return None
        metadata = data["metadata"]
        return evaluation_identity(
            env=metadata["env"]["id"],
            conditions=[c["name"] for c in data["conditions"]],
            runs=[(r.get("group", "model"), r.get("digest")) for r in data["runs"]],
            n_episodes=metadata["n_episodes"],
            seed=metadata["seed"],
            max_steps=metadata["max_steps"],
        )
    except (AttributeError, KeyError, TypeError):
        return None


def check_report_directory(directory: str | Path, identity: dict[str, Any], flag: str) -> None:
    """Refuse to write a report into ``directory`` when it holds another evaluation's.

    The same evaluation again (a resumed or repeated run) may rewrite its own
    report; a different one would replace it, and leave plots of the old one
    beside the new files.

    Args:
        directory: Where the report would be written.
        identity: :func:`evaluation_identity` of the evaluation about to run.
        flag: How the user named the directory (``--out``), for the message.

    Raises:
        ValueError: ``directory`` is an existing file.
        FileExistsError: It holds a ``report.json`` of a different evaluation,
            or JSON that is not an rlnoise report (a ``report.json`` that is not
            JSON at all, e.g. cut short, is reported and rebuilt instead).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{flag} {directory} is a file, not a directory")
    path = directory / "report.json"
    if not path.exists():
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        # Cut short or garbled: nothing in it can be lost, and the finished cells (which
        # carry their own fingerprints) are what the report is rebuilt from.
        print(
            f"{flag} {directory}: report.json cannot be read (cut short or garbled); "
            "it is rebuilt from the finished cells",
            file=sys.stderr,
        )
        return
    existing = report_identity(data)
    if existing is None:
        raise FileExistsError(
            f"{flag} {directory} holds a report.json that is not a readable rlnoise report; "
            f"choose another {flag} or move it away"
        )
    differing = [key for key in identity if existing.get(key) != identity[key]]
    if differing:
        raise FileExistsError(
            f"{flag} {directory} holds the report of a different evaluation (differs in "
            f"{differing}); choose another {flag} or move the old one away"
        )

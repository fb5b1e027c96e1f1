"""The run-directory contract: what a finished training run holds, and how to tell.

``rlnoise train`` writes each seed's directory in this order, every file
atomically::

    model.zip          the trained model
    vecnormalize.pkl   VecNormalize statistics (when the env is normalised)
    config.yaml        the fully resolved config of this run
    done.json          written last: the run is finished

and ``experiment.yaml`` in the experiment's output directory, above the runs
(:mod:`rlnoise.runs.config` writes and reads the two YAML files). A run is
*finished* exactly when its ``done.json`` is a valid record and every file the
record lists is present. A directory killed before ``done.json``
(a model without its ``vecnormalize.pkl``, say) or holding a ``done.json``
that is truncated, garbled or for another seed is *unfinished*: training runs
it again, evaluation skips it unless told otherwise.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / "model.zip").write_bytes(b"...")
    >>> done_problem(run)
    'no done.json'
    >>> record = done_record(seed=0, algo="PPO", total_timesteps=64, wall_seconds=1.5,
    ...                      versions={"rlnoise": "0.1.0"}, files=["model.zip"])
    >>> _ = write_done(run, record)
    >>> is_finished(run), is_finished(run, seed=1)
    (True, False)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rlnoise.runs.files import write_text

__all__ = [
    "CONFIG_FILE",
    "DONE_FILE",
    "EXPERIMENT_FILE",
    "MODEL_FILE",
    "done_problem",
    "done_record",
    "is_finished",
    "unfinished_reason",
    "write_done",
]

DONE_FILE = "done.json"
CONFIG_FILE = "config.yaml"
MODEL_FILE = "model.zip"
#: The marker ``rlnoise train`` writes in its output directory (the experiment it holds).
EXPERIMENT_FILE = "experiment.yaml"


def done_record(
    *,
    seed: int,
    algo: str,
    total_timesteps: int,
    wall_seconds: float,
    versions: dict[str, str],
    files: list[str],
) -> dict[str, Any]:
    """The content of ``done.json``.

    Args:
        seed: The run's training seed.
        algo: Algorithm name.
        total_timesteps: Training budget.
        wall_seconds: How long training took.
        versions: Package versions the run was trained with.
        files: Names of the files the run wrote before ``done.json``
            (checked to exist when the run is read back).
    """
    return {
        "seed": seed,
        "algo": algo,
        "total_timesteps": total_timesteps,
        "wall_seconds": wall_seconds,
        "versions": dict(versions),
        "files": list(files),
    }


def write_done(directory: str | Path, record: dict[str, Any]) -> Path:
    """Write ``done.json`` (atomically) after checking ``record``; returns its path."""
    problem = _record_problem(record)
    if problem is not None:
        raise ValueError(f"refusing to write an invalid done.json: {problem}")
    return write_text(Path(directory) / DONE_FILE, json.dumps(record, indent=2))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"holds a {type(record).__name__}, not a record"
    checks = {
        "seed": lambda v: _is_int(v) and v >= 0,
        "algo": lambda v: isinstance(v, str) and bool(v),
        "total_timesteps": lambda v: _is_int(v) and v >= 1,
        "wall_seconds": lambda v: isinstance(v, int | float) and math.isfinite(v) and v >= 0,
        "versions": lambda v: (
            isinstance(v, dict)
            and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
        ),
    }
    for key, valid in checks.items():
        if key not in record:
            return f"lacks {key!r}"
        if not valid(record[key]):
            return f"has an invalid {key!r}: {record[key]!r}"
    files = record.get("files", [])  # absent in records of earlier versions
    if not isinstance(files, list) or not all(
        isinstance(f, str) and f and Path(f).name == f for f in files
    ):
        return f"has an invalid 'files': {files!r}"
    return None


def done_problem(directory: str | Path, *, seed: int | None = None) -> str | None:
    """Why the run in ``directory`` is not finished, or ``None`` when it is.

    Args:
        directory: A run directory.
        seed: The seed the run must be for (``None``: any).

    Example:
        >>> done_problem("/nonexistent/seed_0")
        'no done.json'
    """
    path = Path(directory) / DONE_FILE
    if not path.is_file():
        return f"no {DONE_FILE}"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"{DONE_FILE} cannot be read ({type(error).__name__}: cut short or garbled)"
    problem = _record_problem(record)
    if problem is not None:
        return f"{DONE_FILE} {problem}"
    if seed is not None and record["seed"] != seed:
        return f"{DONE_FILE} is for seed {record['seed']}, not {seed}"
    for name in record.get("files") or [MODEL_FILE]:
        if not (Path(directory) / name).is_file():
            return f"{name} is missing"
    return None


def is_finished(directory: str | Path, *, seed: int | None = None) -> bool:
    """Whether ``directory`` holds a finished run (see :func:`done_problem`)."""
    return done_problem(directory, seed=seed) is None


def unfinished_reason(run_directory: str | Path) -> str | None:
    """Why a run found by ``rlnoise evaluate --runs`` should be skipped, or ``None``.

    A run that ``rlnoise train`` wrote (its parent holds ``experiment.yaml``, or
    it holds a ``config.yaml`` or ``done.json`` itself) must be finished. A
    directory assembled by hand (a ``model.zip`` and maybe a
    ``vecnormalize.pkl``, nothing else) has no such record and is taken as it is.
    """
    run_directory = Path(run_directory)
    from_training = (run_directory.parent / EXPERIMENT_FILE).is_file() or any(
        (run_directory / name).exists() for name in (CONFIG_FILE, DONE_FILE)
    )
    return done_problem(run_directory) if from_training else None

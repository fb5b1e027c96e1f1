"""Models to evaluate: loading SB3 zips, detecting their algorithm, grouping runs.

SB3's ``model.save`` does not record the algorithm class, only the policy
class and the algorithm's hyper-parameters (the ``data`` entry of the zip).
:func:`detect_algorithm` reads those and decides, by keys that only one
algorithm saves (``clip_range``: PPO, ``exploration_fraction``: DQN,
``policy_delay``: TD3 ...), refined by the policy's module for sb3-contrib.
When it cannot decide it says so; pass ``algo=`` (``--algo``) then.

A *run* is one trained model (one training seed); runs are grouped (one line
per group in the plots). ``VecNormalize`` statistics saved next to a model as
``vecnormalize.pkl`` (or ``<stem>_vecnormalize.pkl``) are picked up.

A *runs directory* holds one sub-directory per run, each with a ``model.zip``
and optionally a ``vecnormalize.pkl``; the group is named after the directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlnoise.evaluation.normalization import normalized_keys

__all__ = [
    "ALGORITHMS",
    "ModelRun",
    "detect_algorithm",
    "discover_runs",
    "load_run",
    "resolve_device",
    "saved_run_name",
]

# name -> (module, class name); sb3-contrib entries import lazily.
ALGORITHMS: dict[str, tuple[str, str]] = {
    "PPO": ("stable_baselines3", "PPO"),
    "A2C": ("stable_baselines3", "A2C"),
    "DQN": ("stable_baselines3", "DQN"),
    "SAC": ("stable_baselines3", "SAC"),
    "TD3": ("stable_baselines3", "TD3"),
    "DDPG": ("stable_baselines3", "DDPG"),
    "TRPO": ("sb3_contrib", "TRPO"),
    "QRDQN": ("sb3_contrib", "QRDQN"),
    "TQC": ("sb3_contrib", "TQC"),
    "ARS": ("sb3_contrib", "ARS"),
    "CrossQ": ("sb3_contrib", "CrossQ"),
}


def resolve_device(device: str | torch.device, name: str = "device") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; ``"cuda"`` without CUDA is an error.

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``.
        name: How errors name the setting (``"--device"`` on the command line).

    Example:
        >>> resolve_device("cpu").type
        'cpu'
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise ValueError(f"{name} must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"{name} must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name} {device!r} was requested but torch sees no CUDA device")
        if resolved.index is None:  # compare equal to the device parameters report
            resolved = torch.device("cuda", torch.cuda.current_device())
    return resolved


def _zip_data(path: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"{str(path)!r} is not an SB3 model zip: {error}") from None


def detect_algorithm(path: str | Path) -> str:
    """The algorithm name of a saved SB3 model (a key of :data:`ALGORITHMS`).

    Raises:
        ValueError: Not an SB3 zip, an unsupported (recurrent / maskable)
            algorithm, or keys that fit no known algorithm (pass ``algo``).
    """
    path = Path(path)
    data = _zip_data(path)
    module = str(data.get("policy_class", {}).get("__module__", ""))
    if "recurrent" in module or "maskable" in module:
        raise ValueError(
            f"{str(path)!r} is a recurrent or action-masked model ({module}); "
            "evaluation supports feed-forward policies"
        )
    rules = [
        ("clip_range", "PPO"),
        ("cg_max_steps", "TRPO"),
        ("top_quantiles_to_drop_per_net", "TQC"),
        ("n_delta", "ARS"),
    ]
    for key, name in rules:
        if key in data:
            return name
    if "policy_delay" in data:
        # DDPG is TD3 with one actor update per critic update and no target smoothing clip.
        ddpg = data.get("policy_delay") == 1 and data.get("target_noise_clip") == 0.0
        return "DDPG" if ddpg else "TD3"
    if "exploration_fraction" in data:
        return "QRDQN" if module.startswith("sb3_contrib.qrdqn") else "DQN"
    if "target_entropy" in data:
        return "CrossQ" if module.startswith("sb3_contrib.crossq") else "SAC"
    if "gae_lambda" in data and "normalize_advantage" in data:
        return "A2C"
    raise ValueError(
        f"cannot tell which algorithm saved {str(path)!r} (policy module {module!r}); "
        f"pass algo= / --algo, one of {sorted(ALGORITHMS)}"
    )


def algorithm_key(name: str, field: str = "algo") -> str:
    """The key of :data:`ALGORITHMS` that ``name`` spells (case-insensitive).

    Example:
        >>> algorithm_key("ppo")
        'PPO'
    """
    lookup = {k.lower(): k for k in ALGORITHMS}
    key = lookup.get(str(name).lower())
    if key is None:
        raise ValueError(f"{field} must be one of {sorted(ALGORITHMS)}, got {name!r}")
    return key


def algorithm_class(name: str) -> Any:
    """The algorithm class for ``name`` (case-insensitive)."""
    key = algorithm_key(name)
    module_name, class_name = ALGORITHMS[key]
    try:
        module = __import__(module_name, fromlist=[class_name])
    except ImportError:
        raise ValueError(f"algo {key} needs the package {module_name!r} installed") from None
    return getattr(module, class_name)


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_digest(model: Any) -> str:
    """sha256 of an in-memory model: class, spaces, and every policy tensor."""
    digest = hashlib.sha256()
    digest.update(type(model).__name__.encode())
    digest.update(type(model.policy).__name__.encode())
    digest.update(repr(model.observation_space).encode())
    digest.update(repr(model.action_space).encode())
    for name, tensor in sorted(model.policy.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def vec_normalize_digest(vec_normalize: Any) -> str | None:
    """sha256 of the observation statistics that matter for evaluation."""
    if vec_normalize is None or not getattr(vec_normalize, "norm_obs", False):
        return None
    rms = vec_normalize.obs_rms
    buffer = io.BytesIO()
    if isinstance(rms, dict):  # Dict observations: the statistics of the normalised keys
        for key in normalized_keys(vec_normalize):
            buffer.write(repr(key).encode())
            np.save(buffer, np.asarray(rms[key].mean, np.float64))
            np.save(buffer, np.asarray(rms[key].var, np.float64))
    else:
        np.save(buffer, np.asarray(rms.mean, np.float64))
        np.save(buffer, np.asarray(rms.var, np.float64))
    buffer.write(repr((vec_normalize.epsilon, vec_normalize.clip_obs)).encode())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


@dataclass
class ModelRun:
    """One model to evaluate.

    Attributes:
        name: Run name (unique in a report).
        group: Model group (one curve per group).
        model: The SB3 algorithm instance.
        vec_normalize: ``VecNormalize`` with the observation statistics, or ``None``.
        digest: Identity of the weights (file hash or tensor hash), for caching.
        source: Path the model was loaded from, or ``None``.
        algo: Algorithm name.
    """

    name: str
    group: str
    model: Any
    vec_normalize: Any = None
    digest: str = ""
    source: str | None = None
    algo: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """JSON-safe description for reports."""
        return {
            "name": self.name,
            "group": self.group,
            "algo": self.algo,
            "source": self.source,
            "digest": self.digest,
            "vecnormalize": vec_normalize_digest(self.vec_normalize),
        }


def find_vec_normalize(path: Path) -> Path | None:
    """``vecnormalize.pkl`` or ``<stem>_vecnormalize.pkl`` beside the model, if present."""
    for candidate in (
        path.with_name(f"{path.stem}_vecnormalize.pkl"),
        path.parent / "vecnormalize.pkl",
    ):
        if candidate.is_file():
            return candidate
    return None


def load_vec_normalize(path: str | Path) -> Any:
    """Unpickle saved ``VecNormalize`` statistics (no env needed to normalise observations)."""
    from stable_baselines3.common.vec_env import VecNormalize

    path = Path(path)
    try:
        with open(path, "rb") as handle:
            value = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError) as error:
        raise ValueError(f"cannot read VecNormalize statistics {str(path)!r}: {error}") from None
    if not isinstance(value, VecNormalize):
        raise ValueError(f"{str(path)!r} holds a {type(value).__name__}, not VecNormalize")
    return value


def saved_run_name(path: str | Path) -> str | None:
    """The name a saved run takes from its path: ``runs/seed_3/model.zip`` is ``"seed_3"``.

    Only a file named ``model.zip`` takes its folder's name (the current
    directory's when it has no folder); other files return ``None``.

    Example:
        >>> saved_run_name("runs/seed_3/model.zip"), saved_run_name("ppo.zip")
        ('seed_3', None)
    """
    path = Path(path)
    return (path.resolve().parent.name or None) if path.stem == "model" else None


def load_run(
    path: str | Path,
    *,
    name: str | None = None,
    group: str = "model",
    algo: str | None = None,
    device: torch.device | str = "auto",
) -> ModelRun:
    """Load a saved SB3 model (and its ``VecNormalize`` statistics) as a :class:`ModelRun`.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Undetectable algorithm (pass ``algo``), or the zip does not load.
    """
    path = Path(path)
    if not path.is_file() and path.with_suffix(".zip").is_file():
        path = path.with_suffix(".zip")
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    algo_name = detect_algorithm(path) if algo is None else algo
    cls = algorithm_class(algo_name)
    try:
        model = cls.load(path, device=resolve_device(device))
    except ValueError as error:  # SB3: "Error: the file ... wasn't a zip-file" (a damaged zip)
        reason = str(error).removeprefix("Error: ")
        raise ValueError(f"cannot load model file {str(path)!r}: {reason}") from None
    except (KeyError, TypeError, AttributeError, RuntimeError) as error:
        raise ValueError(
            f"cannot load {str(path)!r} as {cls.__name__}: {error}; pass the right --algo"
        ) from None
    normalizer_path = find_vec_normalize(path)
    vec_normalize = None if normalizer_path is None else load_vec_normalize(normalizer_path)
    return ModelRun(
        name=name or path.stem,
        group=group,
        model=model,
        vec_normalize=vec_normalize,
        digest=file_digest(path),
        source=str(path),
        algo=cls.__name__,
    )


def discover_runs(directory: str | Path, name: str = "runs directory") -> list[Path]:
    """The ``model.zip`` of each immediate sub-directory of a runs directory, sorted by name.

    Whether each run is finished is :func:`rlnoise.runs.contract.unfinished_reason`'s call.

    Args:
        directory: The runs directory.
        name: How errors name it (``"--runs"`` on the command line).

    Raises:
        FileNotFoundError: The directory does not exist.
        ValueError: No sub-directory holds a ``model.zip``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{name} {str(directory)!r} does not exist")
    found = sorted(p / "model.zip" for p in directory.iterdir() if (p / "model.zip").is_file())
    if not found:
        raise ValueError(f"{name} {str(directory)!r} has no sub-directory with a model.zip")
    return found

"""Train an experiment over its seeds: one run directory per seed, finished seeds skipped.

Layout written under ``config.output_dir``::

    experiment.yaml            # the experiment's identity (refuses a different one)
    seed_<s>/model.zip         # the trained model
    seed_<s>/vecnormalize.pkl  # VecNormalize statistics, when the env is normalised
    seed_<s>/config.yaml       # the fully resolved config of this run (seeds: [s])
    seed_<s>/tb/               # TensorBoard logs
    seed_<s>/done.json         # written last: the run is finished (versions, wall time, files)

Every file is written whole (temporary file + ``os.replace``). A seed
directory without a valid ``done.json`` (see :mod:`rlnoise.runs.contract`) is
an interrupted run and is trained again. The output directory is locked for
the whole command (:func:`rlnoise.runs.lock.directory_lock`): a second
``rlnoise train`` on it is refused at once, so it can never delete the
folder of a seed the first one is training.

:func:`train_many` trains several experiments and sweeps
(:mod:`~rlnoise.experiments.sweep`) at once, one unit of work per (config,
seed) (:func:`train_unit`), in this process, in local processes or as Ray
tasks (:mod:`rlnoise.runs.backends`). The driver holds every output
directory's lock; the workers write into it on its behalf, and a run killed
midway (even SIGKILL) leaves an unfinished seed directory that the next
attempt (Ray's retry, or a rerun) clears and trains again.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rlnoise.experiments.build import check_env_id, from_config, make_training_env, versions
from rlnoise.experiments.config import (
    IDENTITY_EXCLUDES,
    ExperimentConfig,
    build_policy_kwargs,
    resolve_algorithm,
    resolve_class,
)
from rlnoise.experiments.sweep import Sweep, claim_sweep_root
from rlnoise.runs.backends import Backend, WorkUnit, run_units
from rlnoise.runs.config import read_experiment, write_experiment, write_run_config
from rlnoise.runs.contract import (
    CONFIG_FILE,
    EXPERIMENT_FILE,
    MODEL_FILE,
    done_record,
    is_finished,
    write_done,
)
from rlnoise.runs.discovery import SWEEP_FILE
from rlnoise.runs.errors import Interrupted
from rlnoise.runs.files import atomic_path
from rlnoise.runs.lock import LOCK_FILE, directory_lock

__all__ = [
    "make_training_env",
    "run_dir",
    "train_experiment",
    "train_many",
    "train_seed",
    "train_unit",
]


def run_dir(config: ExperimentConfig, seed: int) -> Path:
    """The directory of one seed's run."""
    return Path(config.output_dir) / f"seed_{seed}"


def _finished_seeds(root: Path) -> list[Path]:
    return [d for d in root.glob("seed_*") if is_finished(d)]


def _claim_output_dir(config: ExperimentConfig) -> None:
    """Mark ``output_dir`` as this experiment's; refuse one holding another's finished runs.

    The caller holds the directory's lock.
    """
    root = Path(config.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    identity = config.identity()
    if (root / EXPERIMENT_FILE).exists():
        existing = read_experiment(root)
        if isinstance(existing, dict):  # markers of older versions hold output_dir too
            existing = {k: v for k, v in existing.items() if k not in IDENTITY_EXCLUDES}
        finished = _finished_seeds(root)
        if existing != identity and not finished:
            # Nothing finished belongs to the old config (e.g. it failed on a typo): take over.
            for unfinished in root.glob("seed_*"):
                shutil.rmtree(unfinished)
            write_experiment(root, identity)
        elif existing != identity:
            differing = sorted(
                k
                for k in identity
                if not isinstance(existing, dict) or existing.get(k) != identity[k]
            )
            raise FileExistsError(
                f"output directory {root} holds a different experiment (differs in {differing}); "
                "choose another output_dir or move the old one away"
            )
        return
    if (root / SWEEP_FILE).exists():
        raise FileExistsError(
            f"output directory {root} holds a sweep, not an experiment; choose another output_dir"
        )
    if any(path.name != LOCK_FILE for path in root.iterdir()):
        raise FileExistsError(
            f"output directory {root} is not empty and holds no rlnoise experiment"
        )
    write_experiment(root, identity)


def train_seed(
    config: ExperimentConfig,
    seed: int,
    *,
    directory: Path | None = None,
    progress_bar: bool = False,
) -> Path:
    """Train one seed and write its run directory; returns it.

    The caller holds the lock of ``config.output_dir`` (as :func:`train_experiment` does).

    Args:
        config: The experiment.
        seed: The seed.
        directory: Where to write the run; default :func:`run_dir`.
        progress_bar: Show the run's steps.
    """
    from stable_baselines3.common.callbacks import CallbackList

    directory = run_dir(config, seed) if directory is None else directory
    if directory.exists():
        shutil.rmtree(directory)  # an unfinished run (no valid done.json): start it again
    directory.mkdir(parents=True)
    algo_cls = resolve_algorithm(config.algo)
    policy: Any = config.policy
    if "." in policy:
        policy = resolve_class(policy, field="policy")
    venv = from_config("env", lambda: make_training_env(config, seed))
    start = time.perf_counter()
    files = [MODEL_FILE]
    try:
        model = from_config(
            f"{config.algo} with policy {config.policy}",
            lambda: algo_cls(
                policy,
                venv,
                seed=seed,
                device=config.device,
                verbose=0,
                tensorboard_log=str(directory / "tb"),
                policy_kwargs=build_policy_kwargs(config.policy_kwargs) or None,
                **config.algo_kwargs,
            ),
        )
        callbacks = from_config("callbacks", lambda: [c.build() for c in config.callbacks])
        if progress_bar:
            from rlnoise.experiments.progress import TrainingProgress

            callbacks.append(TrainingProgress(f"{config.name} seed {seed}"))
        model.learn(
            total_timesteps=config.total_timesteps,
            callback=CallbackList(callbacks) if callbacks else None,
            progress_bar=False,
            tb_log_name="run",
        )
        with atomic_path(directory / MODEL_FILE) as temporary:
            model.save(temporary)
        if config.env.normalize:
            with atomic_path(directory / "vecnormalize.pkl") as temporary:
                model.get_vec_normalize_env().save(str(temporary))
            files.append("vecnormalize.pkl")
    finally:
        venv.close()
    write_run_config(directory, replace(config, seeds=(seed,)).to_dict())
    record = done_record(
        seed=seed,
        algo=config.algo,
        total_timesteps=config.total_timesteps,
        wall_seconds=round(time.perf_counter() - start, 2),
        versions=versions(),
        files=[*files, CONFIG_FILE],
    )
    write_done(directory, record)  # last: the run is finished
    return directory


def train_experiment(
    config: ExperimentConfig,
    *,
    seeds: list[int] | None = None,
    progress_bar: bool = True,
    log: Any = print,
) -> list[Path]:
    """Train every seed of ``config`` (or ``seeds``), skipping finished ones.

    ``output_dir`` is checked writable and locked before anything is trained,
    and stays locked until the last seed is written.

    Raises:
        FileExistsError: ``output_dir`` holds a different experiment.
        DirectoryInUse: Another process holds ``output_dir``.
        Interrupted: Ctrl-C; says how many of the seeds are finished (a rerun
            trains the rest).
    """
    check_env_id(config.env.id)  # before the output directory is claimed for this config
    chosen = list(config.seeds if seeds is None else seeds)
    with directory_lock(config.output_dir, "output_dir"):
        _claim_output_dir(config)
        directories = []
        try:
            for seed in chosen:
                directory = run_dir(config, seed)
                if is_finished(directory, seed=seed):
                    log(f"seed {seed}: finished earlier, skipped ({directory})")
                else:
                    budget = f"{config.total_timesteps} steps"
                    log(f"seed {seed}: training {config.algo} on {config.env.id} for {budget}")
                    train_seed(config, seed, progress_bar=progress_bar)
                    log(f"seed {seed}: wrote {directory}")
                directories.append(directory)
        except KeyboardInterrupt as interrupt:
            finished = sum(is_finished(run_dir(config, s), seed=s) for s in chosen)
            raise Interrupted(finished, len(chosen), "seeds finished") from interrupt
    return directories


def train_unit(
    config: ExperimentConfig,
    seed: int,
    directory: str,
    threads: int | None = 1,
    progress_bar: bool = False,
) -> str:
    """The unit of work of :func:`train_many`: one seed of one experiment, on any backend.

    Run by a worker on the driver's behalf: the driver holds the lock of
    ``config.output_dir`` and claimed it. ``directory`` is absolute (a Ray
    worker's working directory is not the driver's).

    Args:
        config: The experiment.
        seed: The seed to train.
        directory: The run directory to write (``<output_dir>/seed_<seed>``, absolute).
        threads: Torch CPU threads of the worker (``None``: leave them as they are).
        progress_bar: Show this run's steps (in-process runs only).

    Returns:
        ``directory``.
    """
    if threads is not None:
        import torch

        torch.set_num_threads(threads)  # small MLPs: one thread per process is fastest
    return str(train_seed(config, seed, directory=Path(directory), progress_bar=progress_bar))


def _expand(
    sources: Iterable[ExperimentConfig | Sweep],
) -> tuple[list[ExperimentConfig], list[Sweep]]:
    configs: list[ExperimentConfig] = []
    sweeps: list[Sweep] = []
    for source in sources:
        if isinstance(source, Sweep):
            sweeps.append(source)
            configs.extend(source.configs)
        else:
            configs.append(source)
    return configs, sweeps


def _check_plan(configs: list[ExperimentConfig], backend: Backend) -> None:
    """Refuse what cannot work before locking or training anything."""
    for config in configs:
        check_env_id(config.env.id)
        if backend.kind == "ray" and backend.gpus_per_unit == 0 and "cuda" in config.device:
            flag = backend.flags.get("gpus_per_unit", "gpus_per_unit")
            raise ValueError(
                f"{config.name} trains on device {config.device!r}: give {flag} (a fraction "
                "such as 0.25 shares one GPU between four runs)"
            )
    names = [config.name for config in configs]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"two of the experiments are named {name!r}; give them other names")
    places: dict[tuple[Path, int], str] = {}
    for config in configs:
        for seed in config.seeds:
            place = (Path(config.output_dir).resolve(), seed)
            if place in places:
                raise ValueError(
                    f"{places[place]} and {config.name} both write seed {seed} to "
                    f"{config.output_dir}; give them different output_dir"
                )
            places[place] = config.name


def train_many(
    sources: Iterable[ExperimentConfig | Sweep],
    *,
    backend: Backend | None = None,
    workers: int = 1,
    seeds: Sequence[int] | None = None,
    threads: int = 1,
    progress: bool = False,
    log: Callable[[str], None] | None = print,
    unit_function: Callable[..., str] = train_unit,
) -> list[Path]:
    """Train every seed of several experiments and sweeps on a backend; skip finished ones.

    The unit of work is one (config, seed) (:func:`train_unit`), run by
    :func:`rlnoise.runs.backends.run_units` in this process, in local processes
    (spawned, not forked: forking a process that already loaded torch can
    deadlock) or as Ray tasks. Every output directory (and sweep root) is
    locked by this process, the driver, for the whole call, and claimed before
    any unit runs; workers write into it on its behalf. Nothing starts (no
    worker, no Ray) when every seed is finished.

    Args:
        sources: Experiment configs and sweeps (:func:`~rlnoise.experiments.sweep.load_experiment`).
        backend: Where runs go; default ``Backend("local", workers=workers)``.
        workers: Local processes when ``backend`` is not given (1: in this process).
        seeds: Train only these of each config's seeds.
        threads: Torch CPU threads per run.
        progress: One progress bar over all runs (and each run's steps in-process).
        log: Receives one line per run reused, written or failed; ``None``:
            printed on stdout through the progress bar.
        unit_function: Trains one run, with :func:`train_unit`'s signature.

    Returns:
        The run directory of every seed, in the sources' order.

    Raises:
        WorkFailed: Some runs failed (each reported by name); the others are kept.
        Interrupted: Ctrl-C; says how many of the runs are finished.
    """
    backend = Backend("local", workers=workers) if backend is None else backend
    configs, sweeps = _expand(sources)
    if seeds is not None:
        chosen = [(c, tuple(s for s in c.seeds if s in seeds)) for c in configs]
        configs = [replace(c, seeds=kept) for c, kept in chosen if kept]
    _check_plan(configs, backend)
    say = log if log is not None else print
    sweep_roots = {Path(s.root).resolve(): s for s in sweeps}
    roots = {Path(c.output_dir).resolve(): c.output_dir for c in configs}
    with contextlib.ExitStack() as locks:
        for sweep in sweep_roots.values():  # before its members' locks create their directories
            locks.enter_context(directory_lock(sweep.root, "output_dir"))
            claim_sweep_root(sweep)
        for directory in roots.values():
            locks.enter_context(directory_lock(directory, "output_dir"))
        for config in configs:  # refuse a foreign output directory before training
            _claim_output_dir(config)
        units = []
        for config in configs:
            root = Path(config.output_dir).resolve()
            for seed in config.seeds:
                if is_finished(run_dir(config, seed), seed=seed):
                    say(f"{config.name} seed {seed}: finished earlier, reused")
                    continue
                args = (
                    config,
                    seed,
                    str(root / f"seed_{seed}"),
                    threads,
                    progress and backend.in_process,
                )
                units.append(
                    WorkUnit(
                        f"{config.name} seed {seed}",
                        unit_function,
                        args,
                        needs=(str(root / EXPERIMENT_FILE),),
                    )
                )
        try:
            run_units(
                units,
                backend,
                desc="training",
                unit="runs",
                progress=progress,
                log=log,
                describe=lambda directory: f"wrote {directory}",
            )
        except KeyboardInterrupt as interrupt:
            runs = [(c, s) for c in configs for s in c.seeds]
            finished = sum(is_finished(run_dir(c, s), seed=s) for c, s in runs)
            raise Interrupted(finished, len(runs), "training runs finished") from interrupt
    return [run_dir(config, seed) for config in configs for seed in config.seeds]

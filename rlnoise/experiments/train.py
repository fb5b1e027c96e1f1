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
folder of a seed the first one is training. Workers of :func:`train_many`
run under their parent's lock.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import platform
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from rlnoise.experiments.config import (
    IDENTITY_EXCLUDES,
    ExperimentConfig,
    build_policy_kwargs,
    resolve_algorithm,
    resolve_class,
)
from rlnoise.runs.config import read_experiment, write_experiment, write_run_config
from rlnoise.runs.contract import (
    CONFIG_FILE,
    EXPERIMENT_FILE,
    MODEL_FILE,
    done_record,
    is_finished,
    write_done,
)
from rlnoise.runs.env import WrapperChain
from rlnoise.runs.errors import Interrupted
from rlnoise.runs.files import atomic_path
from rlnoise.runs.lock import LOCK_FILE, directory_lock

__all__ = [
    "make_training_env",
    "run_dir",
    "train_experiment",
    "train_seed",
]


def make_training_env(config: ExperimentConfig, seed: int) -> Any:
    """The SB3 VecEnv a run trains on: make_vec_env + wrappers (+ VecNormalize)."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    check_env_id(config.env.id)
    venv = make_vec_env(
        config.env.id,
        n_envs=config.env.n_envs,
        seed=seed,
        env_kwargs=dict(config.env.kwargs),
        wrapper_class=WrapperChain(config.env.wrappers) if config.env.wrappers else None,
        vec_env_cls=SubprocVecEnv if config.env.vec_env == "subproc" else DummyVecEnv,
    )
    if config.env.normalize:
        options = {} if config.env.normalize is True else dict(config.env.normalize)
        venv = VecNormalize(venv, **options)
    return venv


def check_env_id(env_id: str) -> None:
    """Raise ``ValueError`` unless ``env_id`` is a registered Gymnasium environment."""
    import importlib

    import gymnasium as gym

    module, _, name = env_id.rpartition(":")
    if module:  # gym.make's "module:EnvId": importing the module registers its envs
        try:
            importlib.import_module(module)
        except ImportError:
            raise ValueError(
                f"env.id {env_id!r} needs the module {module!r}, which is not installed "
                f"(pip install {module})"
            ) from None
    if name not in gym.registry:
        raise ValueError(f"env.id {env_id!r} is not a registered Gymnasium environment")


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
    if any(path.name != LOCK_FILE for path in root.iterdir()):
        raise FileExistsError(
            f"output directory {root} is not empty and holds no rlnoise experiment"
        )
    write_experiment(root, identity)


def _versions() -> dict[str, str]:
    import gymnasium
    import stable_baselines3
    import torch

    import rlnoise

    return {
        "rlnoise": rlnoise.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gymnasium.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _from_config(what: str, build: Any) -> Any:
    """Build something the config describes; its construction errors are config errors.

    SB3 and the wrappers reject bad settings with assertions and ``TypeError``s;
    they become a one-line ``ValueError`` that says what was being built.
    """
    try:
        return build()
    except ValueError:
        raise
    except (AssertionError, TypeError, KeyError) as error:
        raise ValueError(f"cannot build the {what} from the config: {error}") from error


def train_seed(config: ExperimentConfig, seed: int, *, progress_bar: bool = False) -> Path:
    """Train one seed and write its run directory; returns it.

    The caller holds the lock of ``config.output_dir`` (as :func:`train_experiment` does).
    """
    from stable_baselines3.common.callbacks import CallbackList

    directory = run_dir(config, seed)
    if directory.exists():
        shutil.rmtree(directory)  # an unfinished run (no valid done.json): start it again
    directory.mkdir(parents=True)
    algo_cls = resolve_algorithm(config.algo)
    policy: Any = config.policy
    if "." in policy:
        policy = resolve_class(policy, field="policy")
    venv = _from_config("env", lambda: make_training_env(config, seed))
    start = time.perf_counter()
    files = [MODEL_FILE]
    try:
        model = _from_config(
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
        callbacks = _from_config("callbacks", lambda: [c.build() for c in config.callbacks])
        if progress_bar:
            from rlnoise.experiments.progress import TrainingProgress

            callbacks.append(TrainingProgress(f"seed {seed}"))
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
        versions=_versions(),
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


def _train_in_worker(config: ExperimentConfig, seed: int) -> str:
    """One run of :func:`train_many` (its parent holds the output directory's lock)."""
    import torch

    torch.set_num_threads(1)  # small MLPs: one thread per process is fastest
    return str(train_seed(config, seed, progress_bar=False))


@contextlib.contextmanager
def _children_ignore_interrupts() -> Any:
    """Processes started in this block ignore SIGINT from their first instruction.

    Ctrl-C reaches every process of the terminal's group; the parent alone handles
    it (it stops the workers), so workers must not print tracebacks of their own.
    An ignored SIGINT is inherited across exec and Python then keeps ignoring it,
    which closes the window before a worker could install a handler itself. A
    Ctrl-C during the few milliseconds the workers take to start is dropped.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change signal handlers (and receives SIGINT)
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def train_many(
    configs: Iterable[ExperimentConfig], *, workers: int = 1, log: Any = print
) -> list[Path]:
    """Train every seed of several experiments, ``workers`` runs at a time; skip finished ones.

    Each run is one process (spawned, not forked: forking a process that
    already loaded torch can deadlock) with one torch thread. Every output
    directory is locked for the whole call; on Ctrl-C or a failed run the
    other workers are stopped (their runs stay unfinished and are trained again
    next time).

    Raises:
        Interrupted: Ctrl-C; says how many of the runs are finished.
    """
    configs = list(configs)
    for config in configs:  # refuse a bad env before locking or training anything
        check_env_id(config.env.id)
    roots = {Path(config.output_dir).resolve(): config.output_dir for config in configs}
    with contextlib.ExitStack() as locks:
        for directory in roots.values():
            locks.enter_context(directory_lock(directory, "output_dir"))
        for config in configs:  # refuse a foreign output directory before training
            _claim_output_dir(config)
        jobs = []
        for config in configs:
            for seed in config.seeds:
                if is_finished(run_dir(config, seed), seed=seed):
                    log(f"  {config.name} seed {seed}: finished earlier, reused")
                else:
                    jobs.append((config, seed))
        try:
            _run_jobs(jobs, workers, log)
        except KeyboardInterrupt as interrupt:
            runs = [(c, s) for c in configs for s in c.seeds]
            finished = sum(is_finished(run_dir(c, s), seed=s) for c, s in runs)
            raise Interrupted(finished, len(runs), "training runs finished") from interrupt
    return [run_dir(config, seed) for config in configs for seed in config.seeds]


def _run_jobs(
    jobs: list[tuple[ExperimentConfig, int]],
    workers: int,
    log: Any,
    task: Callable[[ExperimentConfig, int], str] = _train_in_worker,
) -> None:
    """Run ``task(config, seed)`` for every job, ``workers`` processes at a time."""
    if workers <= 1:
        for config, seed in jobs:
            log(f"  {config.name} seed {seed}: wrote {task(config, seed)}")
        return
    if not jobs:
        return
    context = multiprocessing.get_context("spawn")
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        with _children_ignore_interrupts():  # the pool starts its workers on submit
            futures = [(c, s, pool.submit(task, c, s)) for c, s in jobs]
        for config, seed, future in futures:
            log(f"  {config.name} seed {seed}: wrote {future.result()}")
    except BaseException:
        # Leaving the executor normally would wait for every queued run; a worker left
        # running would write into a directory whose lock is about to be released.
        pool.shutdown(wait=False, cancel_futures=True)
        for child in set(multiprocessing.active_children()) - before:
            child.terminate()
            child.join()
        raise
    pool.shutdown()

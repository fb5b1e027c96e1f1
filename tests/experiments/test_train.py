"""Training over seeds: run layout, skipping finished seeds, refusing a different experiment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from stable_baselines3 import PPO

from rlnoise.cli import main
from rlnoise.experiments import ExperimentConfig, train_experiment


def _config(tmp_path: Path, **changes) -> ExperimentConfig:
    data = {
        "name": "tiny",
        "algo": "PPO",
        "env": {"id": "CartPole-v1", "n_envs": 2, "normalize": {"norm_reward": False}},
        "algo_kwargs": {"n_steps": 32, "batch_size": 32, "n_epochs": 1},
        "policy_kwargs": {"net_arch": [8], "activation_fn": "torch.nn.Tanh"},
        "total_timesteps": 64,
        "seeds": [0, 1],
        "device": "cpu",
        "output_dir": str(tmp_path / "runs"),
        **changes,
    }
    return ExperimentConfig.from_dict(data)


def test_train_writes_runs_and_skips_finished(tmp_path: Path) -> None:
    config = _config(tmp_path)
    log: list[str] = []
    directories = train_experiment(config, progress_bar=False, log=log.append)
    for seed, directory in zip((0, 1), directories, strict=True):
        assert {p.name for p in directory.iterdir()} >= {
            "model.zip",
            "vecnormalize.pkl",
            "config.yaml",
            "done.json",
            "tb",
        }
        resolved = yaml.safe_load((directory / "config.yaml").read_text())
        assert (
            resolved["seeds"] == [seed]
            and resolved["policy_kwargs"]["activation_fn"] == "torch.nn.Tanh"
        )
        assert json.loads((directory / "done.json").read_text())["seed"] == seed
        assert PPO.load(directory / "model.zip", device="cpu").num_timesteps >= 64
    # Mark the finished models (no clock: mtimes can be too coarse to see a rewrite); a
    # second run that trained or saved again would overwrite the marks.
    for directory in directories:
        (directory / "model.zip").write_bytes(b"finished earlier")
    log.clear()
    train_experiment(config, progress_bar=False, log=log.append)
    assert len(log) == 2 and all("finished earlier, skipped" in line for line in log)
    for directory in directories:
        assert (directory / "model.zip").read_bytes() == b"finished earlier"


def test_unfinished_seed_is_trained_again(tmp_path: Path) -> None:
    config = _config(tmp_path, seeds=[3])
    stale = tmp_path / "runs" / "seed_3"
    train_experiment(config, progress_bar=False, log=lambda _: None)
    (stale / "done.json").unlink()
    (stale / "leftover.txt").write_text("partial")
    train_experiment(config, progress_bar=False, log=lambda _: None)
    assert (stale / "done.json").exists() and not (stale / "leftover.txt").exists()


def test_refuses_a_different_experiment_in_the_same_directory(tmp_path: Path) -> None:
    train_experiment(_config(tmp_path, seeds=[0]), progress_bar=False, log=lambda _: None)
    with pytest.raises(
        FileExistsError, match=r"holds a different experiment \(differs in \['total_timesteps'\]\)"
    ):
        train_experiment(_config(tmp_path, seeds=[0], total_timesteps=96), progress_bar=False)
    # More seeds of the same experiment are fine.
    train_experiment(_config(tmp_path, seeds=[0, 1]), progress_bar=False, log=lambda _: None)


def test_a_moved_or_respelled_output_dir_is_the_same_experiment(tmp_path: Path) -> None:
    train_experiment(_config(tmp_path, seeds=[0]), progress_bar=False, log=lambda _: None)
    log: list[str] = []
    respelled = _config(tmp_path, seeds=[0], output_dir=f"{tmp_path / 'runs'}/")
    train_experiment(respelled, progress_bar=False, log=log.append)
    (tmp_path / "runs").rename(tmp_path / "moved")
    moved = _config(tmp_path, seeds=[0], output_dir=str(tmp_path / "moved"))
    train_experiment(moved, progress_bar=False, log=log.append)
    assert len(log) == 2 and all("finished earlier, skipped" in line for line in log)


def test_an_older_marker_with_output_dir_still_matches(tmp_path: Path) -> None:
    config = _config(tmp_path, seeds=[0])
    train_experiment(config, progress_bar=False, log=lambda _: None)
    marker = tmp_path / "runs" / "experiment.yaml"
    marker.write_text(yaml.safe_dump({**config.identity(), "output_dir": "elsewhere"}))
    log: list[str] = []
    train_experiment(config, progress_bar=False, log=log.append)
    assert "finished earlier, skipped" in log[0]


def test_a_directory_without_finished_runs_can_be_taken_over(tmp_path: Path) -> None:
    broken = _config(tmp_path, seeds=[0], algo_kwargs={"n_steps": 32, "batch_size": 1})
    with pytest.raises(
        ValueError, match="cannot build the PPO with policy MlpPolicy from the config"
    ):
        train_experiment(broken, progress_bar=False, log=lambda _: None)  # SB3: batch_size > 1
    assert (tmp_path / "runs" / "experiment.yaml").exists()
    fixed = _config(tmp_path, seeds=[0])
    train_experiment(fixed, progress_bar=False, log=lambda _: None)  # not refused: nothing finished
    assert (tmp_path / "runs" / "seed_0" / "done.json").exists()


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path, capsys) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: x\nalgo: PPO\nenv: NoSuchEnv-v0\ntotal_timesteps: 10\nseeds: [0]\n"
        f"output_dir: {tmp_path / 'out'}\n"
    )
    assert main(["train", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "'NoSuchEnv-v0' is not a registered Gymnasium environment" in err
    )
    assert not (tmp_path / "out").exists()  # nothing claimed: fixing the env id just works
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    assert main(["train", str(path), "--seeds", "7"]) == 2
    assert "--seeds [7] are not in the config's seeds [0]" in capsys.readouterr().err
    assert main(["train", str(path), "--seeds", "0", "0"]) == 2
    assert "--seeds must not repeat, got [0, 0]" in capsys.readouterr().err


def test_evaluate_runs_of_a_training_directory_infers_env_and_algo(tmp_path: Path) -> None:
    from rlnoise.runs.config import read_run_config
    from rlnoise.runs.env import EvaluationEnv, evaluation_env_factory
    from rlnoise.wrappers import NOISE_WRAPPERS

    wrappers = [
        {"rlnoise.envs.CartPolePixels": {"size": 36}},
        {"rlnoise.wrappers.ObservationNoise": {"spec": "gaussian:4"}},
    ]
    config = _config(
        tmp_path,
        env={"id": "CartPole-v1", "n_envs": 1, "wrappers": wrappers},
        policy="CnnPolicy",
        policy_kwargs={},
        seeds=[0],
        algo="A2C",
        algo_kwargs={"n_steps": 8},
        total_timesteps=16,
    )
    train_experiment(config, progress_bar=False, log=lambda _: None)
    written = read_run_config(Path(config.output_dir) / "seed_0")["env"]
    factory = evaluation_env_factory(written, leave_out=NOISE_WRAPPERS)
    assert isinstance(factory, EvaluationEnv)
    assert [w.path for w in factory.wrappers] == ["rlnoise.envs.CartPolePixels"]  # noise dropped
    assert factory().observation_space.shape == (36, 36, 2)
    grid = tmp_path / "grid.yaml"
    grid.write_text("clean: true\ngaussian: [2.0]\n")
    out = tmp_path / "eval"
    args = ["evaluate", "--runs", config.output_dir, "--grid", str(grid), "--episodes", "2"]
    assert (
        main([*args, "--out", str(out), "--no-progress", "--no-plots", "--bootstrap", "100"]) == 0
    )
    report = json.loads((out / "report.json").read_text())
    assert len(report["runs"]) == 1
    plain = _config(tmp_path).env.to_dict()
    assert evaluation_env_factory(plain, leave_out=NOISE_WRAPPERS) == "CartPole-v1"  # nothing kept


def _evaluate_runs(directory: str | Path, out: Path, *extra: str) -> dict:
    args = ["evaluate", "--runs", str(directory), "--episodes", "1", "--max-steps", "5", *extra]
    assert main([*args, "--out", str(out), "--no-progress", "--no-plots", "--bootstrap", "10"]) == 0
    return json.loads((out / "report.json").read_text())


def test_evaluate_runs_takes_the_grid_of_the_training_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = _config(tmp_path, seeds=[0], evaluation={"clean": True, "gaussian": [0.3]})
    train_experiment(mapping, progress_bar=False, log=lambda _: None)
    report = _evaluate_runs(mapping.output_dir, tmp_path / "eval_mapping")
    assert [c["name"] for c in report["conditions"]] == ["clean", "obs:gaussian:0.3"]
    assert report["metadata"]["grid"] == "the runs' training config"
    # --grid wins over the config's grid.
    report = _evaluate_runs(mapping.output_dir, tmp_path / "eval_flag", "--grid", "attacks")
    assert report["metadata"]["grid"].endswith("attacks.yaml")

    # A repository path, used from a directory without configs/: the packaged grid.
    named = _config(
        tmp_path, seeds=[0], evaluation="configs/eval/quick.yaml", output_dir=str(tmp_path / "q")
    )
    train_experiment(named, progress_bar=False, log=lambda _: None)
    monkeypatch.chdir(tmp_path)
    report = _evaluate_runs(named.output_dir, tmp_path / "eval_named")
    assert Path(report["metadata"]["grid"]).parent.parent.parent.name == "rlnoise"
    assert "obs:gaussian:0.1" in [c["name"] for c in report["conditions"]]

    # Runs whose configs disagree: a one-line error asking for --grid.
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for source in (Path(mapping.output_dir) / "seed_0", Path(named.output_dir) / "seed_0"):
        (mixed / source.parent.name).symlink_to(source, target_is_directory=True)
    args = ["evaluate", "--runs", str(mixed), "--out", str(tmp_path / "eval_mixed")]
    assert main(args) == 2
    assert "name different evaluation grids" in capsys.readouterr().err


@pytest.mark.parametrize(
    "damage",
    [
        lambda done: done.write_text(done.read_text()[:20]),  # cut short mid-write
        lambda done: done.write_bytes(b"\x00\xff garbage"),
        lambda done: done.write_text(json.dumps({**json.loads(done.read_text()), "seed": 9})),
    ],
    ids=["truncated", "garbled", "other-seed"],
)
def test_a_seed_with_an_invalid_done_json_is_trained_again(tmp_path: Path, damage) -> None:
    config = _config(tmp_path, seeds=[0])
    train_experiment(config, progress_bar=False, log=lambda _: None)
    run = tmp_path / "runs" / "seed_0"
    (run / "model.zip").write_bytes(b"stale")
    damage(run / "done.json")
    log: list[str] = []
    train_experiment(config, progress_bar=False, log=log.append)
    assert log[0].startswith("seed 0: training")
    assert (run / "model.zip").read_bytes() != b"stale"
    assert json.loads((run / "done.json").read_text())["seed"] == 0


def test_done_json_lists_the_files_of_the_run(tmp_path: Path) -> None:
    train_experiment(_config(tmp_path, seeds=[0]), progress_bar=False, log=lambda _: None)
    run = tmp_path / "runs" / "seed_0"
    files = json.loads((run / "done.json").read_text())["files"]
    assert files == ["model.zip", "vecnormalize.pkl", "config.yaml"]
    assert not [p.name for p in run.iterdir() if ".tmp" in p.name]  # no temporaries left
    (run / "vecnormalize.pkl").unlink()  # a model without its statistics is not finished
    log: list[str] = []
    train_experiment(_config(tmp_path, seeds=[0]), progress_bar=False, log=log.append)
    assert log[0].startswith("seed 0: training") and (run / "vecnormalize.pkl").exists()


def _config_file(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, **changes).to_dict()))
    return path


def test_a_busy_output_dir_is_refused_at_once(tmp_path: Path, capsys) -> None:
    from rlnoise.runs.lock import directory_lock

    path = _config_file(tmp_path, seeds=[0])
    with directory_lock(tmp_path / "runs", "output_dir"):  # another `rlnoise train` holds it
        assert main(["train", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rlnoise train: error: output_dir {tmp_path / 'runs'} is in use")
    assert err.count("\n") == 1 and not (tmp_path / "runs" / "seed_0").exists()


def test_a_read_only_output_dir_or_a_full_disk_is_one_line(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from rlnoise.runs import files

    path = _config_file(tmp_path, seeds=[0])
    real_touch = Path.touch

    def read_only(self: Path, *args, **kwargs) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "touch", read_only)
    assert main(["train", str(path), "--no-progress"]) == 2
    root = tmp_path / "runs"
    assert capsys.readouterr().err == (
        f"rlnoise train: error: output_dir {root} is not writable: Read-only file system\n"
    )
    assert list(root.iterdir()) == []  # nothing trained or claimed
    monkeypatch.setattr(Path, "touch", real_touch)

    real_replace = files.os.replace

    def full_at_done(source: str, target: str) -> None:  # the disk fills up as the run ends
        if Path(target).name == "done.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(source, target)

    monkeypatch.setattr(files.os, "replace", full_at_done)
    assert main(["train", str(path), "--no-progress"]) == 2
    assert capsys.readouterr().err == (  # the one run's failure, by name, is the error
        f"rlnoise train: error: tiny seed 0 failed: cannot write "
        f"{root / 'seed_0' / 'done.json'}: No space left on device\n"
    )
    assert not (root / "seed_0" / "done.json").exists()  # unfinished: trained again next time


def test_progress_in_a_log_is_plain_lines_that_end_at_the_steps_run(tmp_path: Path, capsys) -> None:
    # 2 envs x 32 steps per rollout: a budget of 80 steps runs 128.
    path = _config_file(tmp_path, seeds=[0], total_timesteps=80)
    assert main(["train", str(path)]) == 0
    err = capsys.readouterr().err  # not a terminal: no bar
    assert "\r" not in err
    # The runs of the command, and each run's steps.
    assert err.splitlines() == [
        "training: 0/1 runs (0%)",
        "tiny seed 0: 0/128 steps (0%)",
        "tiny seed 0: 128/128 steps (100%)",
        "training: 1/1 runs (100%)",
    ]


def test_ctrl_c_says_how_many_seeds_are_finished_and_a_concurrent_train_is_refused(
    tmp_path: Path, capsys
) -> None:
    """Two real processes on one output_dir; the first is stopped while training seed 1.

    The second is refused at once and deletes nothing; Ctrl-C on the first prints
    one line and exits 130; the same command again trains seed 1 only.
    """
    from tests.runs.gated_env import ENV_ID
    from tests.runs.helpers import press_ctrl_c, start_rlnoise, stop, wait_for_line

    env = {"id": ENV_ID, "n_envs": 1}
    path = _config_file(tmp_path, env=env, algo_kwargs={"n_steps": 32, "batch_size": 32})
    first = start_rlnoise("train", str(path), "--no-progress", gate="1:1")  # seed 1's first reset
    try:
        wait_for_line(first)
        seed_1 = tmp_path / "runs" / "seed_1"
        assert (tmp_path / "runs" / "seed_0" / "done.json").exists() and seed_1.is_dir()
        assert main(["train", str(path), "--no-progress"]) == 2
        assert "is in use by another rlnoise process" in capsys.readouterr().err
        assert seed_1.is_dir()  # not deleted under the first process
        code, _, err = press_ctrl_c(first)
    finally:
        stop(first)
    assert code == 130
    assert (
        err == "rlnoise train: interrupted; rerun the same command to resume: "
        "1 of 2 training runs finished\n"
    )
    log: list[str] = []
    config = _config(tmp_path, env=env, algo_kwargs={"n_steps": 32, "batch_size": 32})
    train_experiment(config, progress_bar=False, log=log.append)
    assert log[0].startswith("seed 0: finished earlier") and log[1].startswith("seed 1: training")

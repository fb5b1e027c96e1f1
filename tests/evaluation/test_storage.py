"""Resuming: finished cells are reused; damaged files are reported, recomputed, never mixed in."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO

from rlnoise.evaluation import evaluate_robustness
from rlnoise.evaluation.storage import ResultStore

GRID = {"gaussian": [0.1], "random_action": [0.2]}


def run(model: PPO, directory: Path, **kwargs):
    kwargs.setdefault("n_episodes", 4)
    return evaluate_robustness(
        model, "CartPole-v1", GRID, seed=0, device="cpu", progress=False,
        resume_dir=directory, **kwargs,
    )  # fmt: skip


def test_second_run_reuses_every_cell(untrained_cartpole: PPO, tmp_path: Path) -> None:
    first = run(untrained_cartpole, tmp_path)
    assert first.metadata["resume"]["reused_cells"] == 0
    assert len(list(tmp_path.glob("cell-*.json"))) == 3
    second = run(untrained_cartpole, tmp_path)
    assert second.metadata["resume"]["reused_cells"] == 3
    assert np.array_equal(first.returns, second.returns)
    assert np.array_equal(first.lengths, second.lengths)


def test_changed_settings_do_not_reuse(untrained_cartpole: PPO, tmp_path: Path) -> None:
    run(untrained_cartpole, tmp_path)
    more = run(untrained_cartpole, tmp_path, n_episodes=5)
    assert more.metadata["resume"]["reused_cells"] == 0
    other_model = PPO("MlpPolicy", "CartPole-v1", seed=123, device="cpu")
    assert run(other_model, tmp_path).metadata["resume"]["reused_cells"] == 0


def _damage_truncate(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def _damage_edit_a_return(path: Path) -> None:
    content = json.loads(path.read_text())
    content["returns"][0] += 1.0
    path.write_text(json.dumps(content))


def _damage_drop_an_episode(path: Path) -> None:
    content = json.loads(path.read_text())
    content["returns"].pop()
    content["lengths"].pop()
    path.write_text(json.dumps(content))


def _damage_swap_fingerprint(path: Path) -> None:
    content = json.loads(path.read_text())
    content["fingerprint"]["seed"] = 99
    path.write_text(json.dumps(content))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_damage_truncate, "unreadable"),
        (_damage_edit_a_return, "checksum mismatch"),
        (_damage_drop_an_episode, "holds 3 returns"),
        (_damage_swap_fingerprint, "different model, env, condition"),
    ],
)
def test_damaged_files_are_reported_and_recomputed(
    untrained_cartpole: PPO,
    tmp_path: Path,
    damage: object,
    reason: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = run(untrained_cartpole, tmp_path)
    victim = sorted(tmp_path.glob("cell-*.json"))[0]
    damage(victim)  # type: ignore[operator]
    capsys.readouterr()
    second = run(untrained_cartpole, tmp_path)
    resume = second.metadata["resume"]
    assert resume["reused_cells"] == 2
    assert len(resume["recomputed_files"]) == 1 and reason in resume["recomputed_files"][0]
    assert reason in capsys.readouterr().err
    assert np.array_equal(first.returns, second.returns)  # recomputed, not mixed in
    assert ResultStore(tmp_path).load(json.loads(victim.read_text())["fingerprint"]) is not None


class CrashingCartPole:
    """Env factory (same name for the crashing and the healthy run, as the fingerprint sees it)."""

    def __init__(self, crash_at_reset: int | None = None):
        self.crash_at_reset = crash_at_reset
        self.resets = 0

    def __call__(self, **kwargs) -> gym.Env:
        factory = self

        class Crash(gym.Wrapper):
            def reset(self, **reset_kwargs):
                factory.resets += 1
                if factory.crash_at_reset is not None and factory.resets >= factory.crash_at_reset:
                    raise RuntimeError("simulated crash")
                return super().reset(**reset_kwargs)

        return Crash(gym.make("CartPole-v1", **kwargs))


def test_interrupted_run_keeps_finished_cells(untrained_cartpole: PPO, tmp_path: Path) -> None:
    def evaluate(factory: CrashingCartPole, resume: Path | None):
        return evaluate_robustness(
            untrained_cartpole, factory, {"gaussian": [0.1]}, 3, 0, "cpu", progress=False,
            resume_dir=resume, batch_size=1,
        )  # fmt: skip

    # One slot: the clean cell's 3 episodes finish, then the crash hits the next cell.
    with pytest.raises(RuntimeError, match="simulated crash"):
        evaluate(CrashingCartPole(crash_at_reset=4), tmp_path)
    assert len(list(tmp_path.glob("cell-*.json"))) == 1
    resumed = evaluate(CrashingCartPole(), tmp_path)
    assert resumed.metadata["resume"]["reused_cells"] == 1
    assert np.array_equal(resumed.returns, evaluate(CrashingCartPole(), None).returns)


def test_non_finite_returns_are_not_saved_and_do_not_stop_the_run(
    untrained_cartpole: PPO, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class NanReward(gym.Wrapper):
        def step(self, action):
            obs, _, terminated, truncated, info = self.env.step(action)
            return obs, float("nan"), terminated, truncated, info

    def factory(**kwargs):
        return NanReward(gym.make("CartPole-v1", **kwargs))

    report = evaluate_robustness(
        untrained_cartpole, factory, ["clean"], 2, 0, "cpu", progress=False, resume_dir=tmp_path
    )
    assert np.isnan(report.returns).all()
    assert len(report.metadata["resume"]["unsaved_cells"]) == 1
    assert "not all finite" in capsys.readouterr().err
    assert not list(tmp_path.glob("cell-*.json"))


def test_cells_are_written_whole_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from rlnoise.runs import files

    store = ResultStore(tmp_path)
    first = {"condition": "clean", "n_episodes": 2}
    store.save(first, [1.0, 2.0], [1, 2])
    assert store.saved == 1

    def disk_full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(OSError, match=r"cannot write .*cell-.*\.json: No space left on device"):
        store.save({"condition": "other", "n_episodes": 2}, [3.0, 4.0], [3, 4])
    assert store.saved == 1
    assert [p.name for p in tmp_path.iterdir()] == [store.path(first).name]  # no partial file

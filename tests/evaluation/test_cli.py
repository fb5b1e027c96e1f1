"""``rlnoise evaluate`` / scripts/evaluate.py: one code path, files written, errors as one line."""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path

import pytest
import yaml
from stable_baselines3 import PPO

import rlnoise
from rlnoise.cli import main as rlnoise_main
from rlnoise.evaluation.cli import add_evaluate_parser, main, resolve_grid

from .test_models import make_runs_dir

ROOT = Path(__file__).resolve().parents[2]


def test_subparser_registration_and_run(tmp_path: Path, untrained_cartpole: PPO) -> None:
    untrained_cartpole.save(tmp_path / "agent.zip")
    parser = argparse.ArgumentParser(prog="rlnoise")
    handler = add_evaluate_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(
        ["evaluate", "--model", str(tmp_path / "agent.zip"), "--env", "CartPole-v1",
         "--grid", "quick", "--episodes", "3", "--seed", "2", "--device", "cpu",
         "--out", str(out), "--no-progress", "--bootstrap", "200"]
    )  # fmt: skip
    assert handler(args) == 0
    for name in ("report.json", "episodes.csv", "summary.csv", "robustness_curve.png"):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["metadata"]["seed"] == 2 and len(report["returns"][0]) == 5
    assert report["runs"][0]["algo"] == "PPO"
    assert len(list((out / "cells").glob("cell-*.json"))) == 5  # resumable


def test_runs_dir_and_groups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = make_runs_dir(tmp_path)
    PPO("MlpPolicy", "CartPole-v1", seed=7, device="cpu").save(tmp_path / "other.zip")
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"gaussian": [0.1]}))
    code = main(
        ["--runs", str(runs), "--model", f"baseline={tmp_path / 'other.zip'}", "--env",
         "CartPole-v1", "--grid", str(grid), "--episodes", "2", "--device", "cpu", "--out",
         str(tmp_path / "out"), "--no-progress", "--no-plots", "--bootstrap", "100"]
    )  # fmt: skip
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [(r["name"], r["group"]) for r in report["runs"]] == [
        ("other", "baseline"),
        ("seed1", "ppo-cartpole"),
        ("seed2", "ppo-cartpole"),
    ]
    assert report["runs"][2]["vecnormalize"] is not None
    assert "ppo-cartpole" in capsys.readouterr().out


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env", "CartPole-v1", "--out", str(tmp_path)]) == 2
    assert "give at least one --model" in capsys.readouterr().err
    PPO("MlpPolicy", "CartPole-v1", device="cpu").save(tmp_path / "m.zip")
    assert (
        main(["--model", str(tmp_path / "m.zip"), "--env", "Nope-v0", "--out", str(tmp_path)]) == 2
    )
    assert "not registered" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "m.zip"), "--env", "CartPole-v1", "--grid", "nope",
                 "--out", str(tmp_path)]) == 2  # fmt: skip
    assert "named grids" in capsys.readouterr().err


def test_grid_names_resolve() -> None:
    assert resolve_grid("default") == ROOT / "configs" / "eval" / "default.yaml"


def test_script_is_the_same_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["evaluate.py", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "scripts" / "evaluate.py"), run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--runs DIR" in out and "--grid" in out


def test_named_grids_ship_with_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./configs/eval here
    packaged = Path(rlnoise.__file__).resolve().parent / "configs" / "eval"
    assert resolve_grid("default") == packaged / "default.yaml"
    assert resolve_grid("configs/eval/attacks.yaml") == packaged / "attacks.yaml"
    with pytest.raises(FileNotFoundError, match=r"named grids \['attacks', 'default', "):
        resolve_grid("configs/eval/nope.yaml")
    local = tmp_path / "configs" / "eval"
    local.mkdir(parents=True)
    (local / "default.yaml").write_text("gaussian: [0.2]\n")
    assert resolve_grid("default") == tmp_path / "configs" / "eval" / "default.yaml"  # local first


def _evaluate(model: Path, out: Path, *extra: str) -> int:
    return main(
        ["--model", str(model), "--env", "CartPole-v1", "--episodes", "2", "--device", "cpu",
         "--out", str(out), "--no-progress", "--no-plots", "--bootstrap", "50", *extra]
    )  # fmt: skip


def test_out_holding_another_evaluation_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    PPO("MlpPolicy", "CartPole-v1", seed=1, device="cpu").save(tmp_path / "a.zip")
    PPO("MlpPolicy", "CartPole-v1", seed=2, device="cpu").save(tmp_path / "b.zip")
    out = tmp_path / "out"
    assert _evaluate(tmp_path / "a.zip", out, "--grid", "quick") == 0
    assert _evaluate(tmp_path / "a.zip", out, "--grid", "quick") == 0  # the same again: fine
    before = (out / "report.json").read_text()
    capsys.readouterr()
    for model, extra, differs in [
        ("a.zip", ["--grid", "attacks"], "['conditions']"),
        ("b.zip", ["--grid", "quick"], "['runs']"),
        ("a.zip", ["--grid", "quick", "--episodes", "3"], "['n_episodes']"),
        ("a.zip", ["--grid", "quick", "--seed", "5"], "['seed']"),
    ]:
        assert _evaluate(tmp_path / model, out, *extra) == 2
        err = capsys.readouterr().err
        assert "holds the report of a different evaluation" in err and differs in err
    assert (out / "report.json").read_text() == before  # left as it was
    (out / "report.json").write_text("{}")
    assert _evaluate(tmp_path / "a.zip", out, "--grid", "quick") == 2
    assert "not a readable rlnoise report" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert _evaluate(tmp_path / "a.zip", tmp_path / "file", "--grid", "quick") == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_model_and_runs_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = make_runs_dir(tmp_path)
    zip_path = str(runs / "seed1" / "model.zip")
    out = str(tmp_path / "out")
    for argv, message in [
        (["--model", zip_path], "--env is needed with --model"),
        (["--model", f"={zip_path}", "--env", "CartPole-v1"], "PATH or GROUP=PATH, got '="),
        (["--model", "g=", "--env", "CartPole-v1"], "PATH or GROUP=PATH, got 'g='"),
        (["--runs", str(runs), "--runs", str(runs)], "is given twice"),
        (["--model", f"ppo-cartpole={zip_path}", "--runs", str(runs), "--env", "CartPole-v1"],
         "would join the group 'ppo-cartpole' of --model"),
    ]:  # fmt: skip
        assert main([*argv, "--out", out, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    other = tmp_path / "elsewhere" / "ppo-cartpole"
    other.mkdir(parents=True)
    (runs / "seed1").rename(other / "seed1")
    assert main(["--runs", str(runs), "--runs", str(other), "--out", out]) == 2
    assert "would join the group 'ppo-cartpole'" in capsys.readouterr().err


def test_help_has_no_rest_markup(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        rlnoise_main(["evaluate", "--help"])
    out = capsys.readouterr().out
    assert "``" not in out and "`--out`" in out


def test_cli_names_saved_runs_as_the_python_api_does(
    tmp_path: Path, untrained_cartpole: PPO, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "seed_3").mkdir()
    untrained_cartpole.save(tmp_path / "seed_3" / "model.zip")
    untrained_cartpole.save(tmp_path / "model.zip")
    monkeypatch.chdir(tmp_path)
    args = ["--model", "seed_3/model.zip", "model.zip", "--env", "CartPole-v1", "--grid",
            str(ROOT / "configs" / "eval" / "quick.yaml"), "--episodes", "1", "--max-steps", "5",
            "--out", "out", "--no-progress", "--no-plots", "--bootstrap", "10"]  # fmt: skip
    assert main(args) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [r["name"] for r in report["runs"]] == ["seed_3", tmp_path.name]


def _training_output(root: Path) -> Path:
    """A runs directory as `rlnoise train` leaves it after a crash: seed_0 finished, the rest not.

    seed_1 was killed after model.zip (no done.json), seed_2 mid-way through done.json,
    seed_3's done.json is garbage.
    """
    from rlnoise.runs.contract import done_record, write_done

    runs = root / "ppo"
    runs.mkdir()
    (runs / "experiment.yaml").write_text("name: ppo\n")
    model = PPO("MlpPolicy", "CartPole-v1", seed=3, device="cpu")
    for seed in range(4):
        folder = runs / f"seed_{seed}"
        folder.mkdir()
        model.save(folder / "model.zip")
    (runs / "seed_0" / "config.yaml").write_text("algo: PPO\n")
    record = done_record(
        seed=0, algo="PPO", total_timesteps=64, wall_seconds=1.0, versions={}, files=["model.zip"]
    )
    write_done(runs / "seed_0", record)
    (runs / "seed_2" / "done.json").write_text('{"seed": 2, "al')
    (runs / "seed_3" / "done.json").write_text("\x00garbage")
    return runs


def _evaluate_runs(runs: Path, out: Path, *extra: str) -> int:
    return main(
        ["--runs", str(runs), "--env", "CartPole-v1", "--grid", "quick", "--episodes", "1",
         "--max-steps", "5", "--device", "cpu", "--out", str(out), "--no-progress",
         "--no-plots", "--bootstrap", "10", *extra]
    )  # fmt: skip


def test_unfinished_runs_are_skipped_with_one_warning_or_included_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = _training_output(tmp_path)
    assert _evaluate_runs(runs, tmp_path / "finished") == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "skipping" in line]
    assert len(warning) == 1
    for name in ("seed_1 (no done.json)", "seed_2 (done.json cannot be read", "seed_3 (done.json"):
        assert name in warning[0]
    assert "--include-unfinished" in warning[0] and "seed_0" not in warning[0]
    report = json.loads((tmp_path / "finished" / "report.json").read_text())
    assert [r["name"] for r in report["runs"]] == ["seed_0"]

    assert _evaluate_runs(runs, tmp_path / "all", "--include-unfinished") == 0
    assert "skipping" not in capsys.readouterr().err
    report = json.loads((tmp_path / "all" / "report.json").read_text())
    assert [r["name"] for r in report["runs"]] == ["seed_0", "seed_1", "seed_2", "seed_3"]

    (runs / "seed_0" / "done.json").unlink()
    assert _evaluate_runs(runs, tmp_path / "none") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no finished run (seed_0 (no done.json)" in err
    assert not (tmp_path / "none").exists()  # refused before --out was touched


def test_a_garbled_run_config_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = _training_output(tmp_path)
    (runs / "seed_0" / "config.yaml").write_text("algo: PPO\nenv: {id: CartPole")
    assert _evaluate_runs(runs, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 2  # the skip warning + the error
    assert f"run config {runs / 'seed_0' / 'config.yaml'} cannot be read" in err.splitlines()[-1]


def test_a_second_evaluate_on_a_locked_out_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rlnoise.runs.lock import directory_lock

    PPO("MlpPolicy", "CartPole-v1", seed=1, device="cpu").save(tmp_path / "a.zip")
    out = tmp_path / "out"
    with directory_lock(out, "--out"):  # another evaluation is writing here
        assert _evaluate(tmp_path / "a.zip", out, "--grid", "quick") == 2
    err = capsys.readouterr().err
    assert f"error: --out {out} is in use by another rlnoise process" in err
    assert len(err.strip().splitlines()) == 1
    assert not (out / "report.json").exists() and not (out / "cells").exists()


def test_a_truncated_report_is_rebuilt_from_the_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    PPO("MlpPolicy", "CartPole-v1", seed=1, device="cpu").save(tmp_path / "a.zip")
    out = tmp_path / "out"
    assert _evaluate(tmp_path / "a.zip", out, "--grid", "quick") == 0
    whole = json.loads((out / "report.json").read_text())
    text = (out / "report.json").read_text()
    (out / "report.json").write_text(text[: len(text) // 2])  # killed mid-write (older versions)
    capsys.readouterr()
    assert _evaluate(tmp_path / "a.zip", out, "--grid", "quick") == 0
    assert "report.json cannot be read (cut short or garbled); it is rebuilt" in (
        capsys.readouterr().err
    )
    rebuilt = json.loads((out / "report.json").read_text())
    assert rebuilt["returns"] == whole["returns"]
    assert rebuilt["metadata"]["resume"]["reused_cells"] == len(whole["conditions"])


def test_disk_full_is_one_line_and_keeps_the_earlier_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from rlnoise.runs import files

    PPO("MlpPolicy", "CartPole-v1", seed=1, device="cpu").save(tmp_path / "a.zip")
    out = tmp_path / "out"
    assert _evaluate(tmp_path / "a.zip", out, "--grid", "quick") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def disk_full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", disk_full)
    capsys.readouterr()
    assert _evaluate(tmp_path / "a.zip", out, "--grid", "quick") == 2
    err = capsys.readouterr().err
    assert err == f"evaluate: error: cannot write {out / 'report.json'}: No space left on device\n"
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_a_read_only_out_fails_before_any_episode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    PPO("MlpPolicy", "CartPole-v1", seed=1, device="cpu").save(tmp_path / "a.zip")

    def read_only(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "touch", read_only)  # the probe write check_writable makes
    out = tmp_path / "out"
    assert _evaluate(tmp_path / "a.zip", out, "--grid", "quick") == 2
    err = capsys.readouterr().err
    assert err == f"evaluate: error: --out {out} is not writable: Read-only file system\n"
    assert list(out.iterdir()) == []  # no cell was computed


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--episodes", "0", "--episodes must be >= 1, got 0"),
        ("--seed", "-1", "--seed must be >= 0, got -1"),
        ("--batch-size", "0", "--batch-size must be >= 1, got 0"),
        ("--max-steps", "0", "--max-steps must be >= 1, got 0"),
        ("--threads", "0", "--threads must be >= 1, got 0"),
        ("--bootstrap", "0", "--bootstrap must be >= 1, got 0"),
        ("--device", "tpu", "--device must be 'auto', 'cpu' or 'cuda[:n]', got 'tpu'"),
        ("--algo", "PPOO", "--algo must be one of ["),
    ],
)
def test_every_flag_error_names_the_flag_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    out = tmp_path / "out"
    args = ["--model", str(tmp_path / "missing.zip"), "--env", "CartPole-v1", "--out", str(out)]
    assert main([*args, flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"evaluate: error: {message}") and err.count("\n") == 1
    assert not out.exists()


def test_a_damaged_model_zip_is_named_without_a_doubled_prefix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], untrained_cartpole: PPO
) -> None:
    import zipfile

    untrained_cartpole.save(tmp_path / "m.zip")
    data = bytearray((tmp_path / "m.zip").read_bytes())
    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        start = archive.getinfo("policy.pth").header_offset + 100
    data[start : start + 40] = bytes(40)  # damage the weights, not the metadata
    (tmp_path / "m.zip").write_bytes(bytes(data))
    assert _evaluate(tmp_path / "m.zip", tmp_path / "out", "--grid", "quick") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"evaluate: error: cannot load model file '{tmp_path / 'm.zip'}'")
    assert "Error:" not in err and err.count("\n") == 1


def test_ctrl_c_keeps_finished_cells_and_a_concurrent_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two real processes: the first is stopped after its first cell, holding --out.

    A second evaluation of other settings into the same --out is refused at once
    (never overwriting); Ctrl-C on the first prints one line and exits 130; the
    same command again reuses the kept cell.
    """
    from tests.runs.gated_env import ENV_ID
    from tests.runs.helpers import press_ctrl_c, start_rlnoise, stop, wait_for_line

    PPO("MlpPolicy", "CartPole-v1", seed=1, device="cpu").save(tmp_path / "a.zip")
    grid = tmp_path / "grid.yaml"
    grid.write_text("gaussian: [0.1]\n")  # clean + one condition: 2 cells
    out = tmp_path / "out"
    command = ["--model", str(tmp_path / "a.zip"), "--env", ENV_ID, "--grid", str(grid),
               "--episodes", "1", "--batch-size", "1", "--device", "cpu", "--out", str(out),
               "--no-plots", "--bootstrap", "10"]  # fmt: skip
    # One episode per cell, one at a time: the second seed-0 reset starts the second cell.
    first = start_rlnoise("evaluate", *command, gate="0:2")
    try:
        wait_for_line(first)
        assert main([*command, "--episodes", "2", "--no-progress"]) == 2  # other settings
        assert "is in use by another rlnoise process" in capsys.readouterr().err
        code, _, err = press_ctrl_c(first)
    finally:
        stop(first)
    assert code == 130
    lines = [line for line in err.splitlines() if not line.startswith("evaluating:")]
    assert lines == [
        "rlnoise evaluate: interrupted; rerun the same command to resume: 1 of 2 cells kept"
    ]
    assert not (out / "report.json").exists()
    assert main([*command, "--no-progress"]) == 0  # the same command, in this process
    report = json.loads((out / "report.json").read_text())
    assert report["metadata"]["resume"]["reused_cells"] == 1


def test_runs_trained_with_and_without_noise_share_their_evaluation_env(
    tmp_path: Path, untrained_cartpole: PPO
) -> None:
    # Training-time noise (and n_envs) does not make another evaluation env: both groups
    # are evaluated on CartPole with the kept TimeLimit, in one report.
    from rlnoise.runs.config import write_run_config
    from rlnoise.runs.contract import done_record, write_done

    limit = {"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 9}}
    noise = {"rlnoise.wrappers.ObservationNoise": {"spec": "gaussian:0.5"}}
    envs = {
        "clean": {"id": "CartPole-v1", "n_envs": 1, "wrappers": [limit]},
        "noisy": {"id": "CartPole-v1", "n_envs": 4, "wrappers": [limit, noise]},
    }
    runs = []
    for group, env in envs.items():
        run = tmp_path / group / "seed_0"
        run.mkdir(parents=True)
        untrained_cartpole.save(run / "model.zip")
        write_run_config(run, {"algo": "PPO", "env": env})
        record = done_record(seed=0, algo="PPO", total_timesteps=1, wall_seconds=0.0,
                             versions={}, files=["model.zip", "config.yaml"])  # fmt: skip
        write_done(run, record)
        runs += ["--runs", str(run.parent)]
    out, grid = tmp_path / "out", tmp_path / "grid.yaml"
    grid.write_text("clean: true\ngaussian: [0.1]\n")
    code = main(
        [*runs, "--grid", str(grid), "--episodes", "1", "--device", "cpu", "--out", str(out),
         "--no-progress", "--no-plots", "--bootstrap", "10"]
    )  # fmt: skip
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert [r["group"] for r in report["runs"]] == ["clean", "noisy"]
    returns = report["returns"]  # nested lists of episode returns
    while isinstance(returns[0], list):
        returns = [value for item in returns for value in item]
    assert max(returns) == 9  # the kept TimeLimit ends every episode of the untrained policy

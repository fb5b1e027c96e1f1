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

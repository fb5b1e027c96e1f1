"""The console script: help, spec parsing, errors as one line with a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rlnoise.cli import main


def test_help_lists_subcommands(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "spec" in out and "demo" in out


def test_console_script_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rlnoise.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "usage: rlnoise" in result.stdout


def test_spec_prints_canonical_dict(capsys) -> None:
    assert main(["spec", "ou:0.2,theta=0.5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "ou" and data["theta"] == 0.5 and data["scale"] == 0.2


def test_bad_spec_is_one_line_error_exit_2(capsys) -> None:
    assert main(["spec", "pink:0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlnoise spec: error: kind must be one of") and "\n" not in err


def test_demo_help_states_the_defaults(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:  # argparse's --help exits; returning is a bug
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 50000)" in out and "(default: 30)" in out


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--steps", "-1", "--steps must be >= 1, got -1"),
        ("--episodes", "0", "--episodes must be >= 1, got 0"),
        ("--device", "tpu", "--device must be 'auto', 'cpu' or 'cuda[:n]', got 'tpu'"),
    ],
)
def test_demo_errors_name_the_flag_before_any_training(
    tmp_path, capsys, flag: str, value: str, message: str
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), flag, value]) == 2
    assert capsys.readouterr().err == f"rlnoise demo: error: {message}\n"
    assert not out.exists()


def test_ctrl_c_in_the_demo_is_one_line_and_exit_130(tmp_path) -> None:
    from tests.runs.helpers import press_ctrl_c, start_rlnoise, stop, wait_for_line

    # The demo's own command, with one seed per group trained in-process, and CartPole
    # gated at the first seed-0 reset: that of the first group's run.
    setup = (
        "import functools; tests.runs.gated_env.gate_cartpole(); import rlnoise.demo as demo; "
        "demo.run_demo = functools.partial(demo.run_demo, seeds=(0,), workers=1)"
    )
    out = tmp_path / "demo"
    args = ["demo", "--steps", "64", "--episodes", "1", "--device", "cpu", "--out", str(out)]
    process = start_rlnoise(*args, gate="0:1", setup=setup)
    try:
        wait_for_line(process)
        code, _, err = press_ctrl_c(process)
    finally:
        stop(process)
    assert code == 130
    assert err == (
        "rlnoise demo: interrupted; rerun the same command to resume: "
        "0 of 2 training runs finished\n"
    )


def test_train_threads_flag_sets_torch_threads(tmp_path, capsys) -> None:
    import torch

    config = tmp_path / "tiny.yaml"
    config.write_text(
        "name: tiny\nalgo: PPO\nenv: {id: CartPole-v1, n_envs: 1}\n"
        "algo_kwargs: {n_steps: 32, batch_size: 32, n_epochs: 1}\n"
        f"total_timesteps: 32\nseeds: [0]\noutput_dir: {tmp_path / 'runs'}\n"
    )
    assert main(["train", str(config), "--threads", "0"]) == 2
    assert capsys.readouterr().err.strip().endswith("--threads must be >= 1, got 0")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert main(["train", str(config), "--threads", "2", "--no-progress"]) == 0
        assert torch.get_num_threads() == 2  # the default (1) would leave it at 1
    finally:
        torch.set_num_threads(before)


def _tiny_config(tmp_path, name: str, seeds: str = "[0]") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nalgo: PPO\nenv: {{id: CartPole-v1, n_envs: 1}}\n"
        "algo_kwargs: {n_steps: 32, batch_size: 32, n_epochs: 1}\npolicy_kwargs: {net_arch: [8]}\n"
        f"total_timesteps: 32\nseeds: {seeds}\ndevice: cpu\noutput_dir: {tmp_path / name}\n"
    )
    return str(path)


def test_train_takes_several_configs_and_reports_each_run(tmp_path, capsys) -> None:
    first, second = _tiny_config(tmp_path, "a", "[0, 1]"), _tiny_config(tmp_path, "b")
    assert main(["train", first, second, "--seeds", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err  # every config must hold the seeds asked for
    assert err == "rlnoise train: error: --seeds [1] are not in the config's seeds [0] (b)\n"
    assert main(["train", first, second, "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(out[:3]) == [
        f"a seed 0: wrote {tmp_path / 'a' / 'seed_0'}",
        f"a seed 1: wrote {tmp_path / 'a' / 'seed_1'}",
        f"b seed 0: wrote {tmp_path / 'b' / 'seed_0'}",
    ]
    assert out[3] == f"3 run(s) in {tmp_path / 'a'}, {tmp_path / 'b'}"


def test_train_without_ray_says_what_to_install_before_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    config = _tiny_config(tmp_path, "a")
    assert main(["train", config, "--backend", "ray"]) == 2
    assert capsys.readouterr().err == (
        "rlnoise train: error: --backend ray needs Ray, which is not installed: "
        'pip install "rlnoise[ray]"\n'
    )
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--address", "auto"], "--address need --backend ray"),
        (["--workers", "0"], "--workers must be an integer >= 1, got 0"),
        (["--cpus-per-run", "2"], "--cpus-per-run need --backend ray"),
    ],
)
def test_train_backend_flags_are_checked_before_anything(tmp_path, capsys, flags, message):
    assert main(["train", _tiny_config(tmp_path, "a"), *flags]) == 2
    assert capsys.readouterr().err == f"rlnoise train: error: {message}\n"
    assert not (tmp_path / "a").exists()

"""A run's config files: written and read back with the bounded loader, errors on one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlnoise.runs.config import read_experiment, read_run_config, write_experiment, write_run_config

from .test_yaml_loader import laughs


def test_a_garbled_run_config_is_one_line_naming_the_file(tmp_path: Path) -> None:
    assert read_run_config(tmp_path) == {}
    (tmp_path / "config.yaml").write_text("name: x\nenv: {id: CartPole-v1\nalgo: [")
    with pytest.raises(ValueError) as info:
        read_run_config(tmp_path)
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "config.yaml") in message
    assert "line 3, column 5" in message and message.endswith("from the runs directory")
    (tmp_path / "config.yaml").write_text("")  # cut short to nothing
    with pytest.raises(ValueError, match="holds nothing, not a mapping"):
        read_run_config(tmp_path)


def test_a_run_config_is_read_with_the_bounded_loader(tmp_path: Path) -> None:
    # A run directory may come from elsewhere: an alias bomb is refused before it expands
    # (PyYAML's safe_load builds it: 9**6 shared references), a Python tag is refused.
    (tmp_path / "config.yaml").write_text("env:\n  kwargs:\n" + laughs("    ", levels=6))
    with pytest.raises(ValueError, match=r"cannot be read \(the document expands to more than"):
        read_run_config(tmp_path)
    (tmp_path / "config.yaml").write_text("algo: !!python/object/apply:os.system [ls]\n")
    with pytest.raises(ValueError, match=r"tag '!!python/object/apply:os.system' is not allowed"):
        read_run_config(tmp_path)


def test_run_config_and_experiment_round_trip_exactly(tmp_path: Path) -> None:
    config = {
        "name": "x",
        "env": {"id": "CartPole-v1", "kwargs": {"mode": "1e5", "length": 0.5}},
        "algo_kwargs": {"learning_rate": 3e-4, "n_steps": 64},
        "seeds": [0],
    }
    write_run_config(tmp_path, config)
    assert read_run_config(tmp_path) == config  # the string "1e5" stays a string
    assert read_experiment(tmp_path) is None  # no marker
    write_experiment(tmp_path, config)
    assert read_experiment(tmp_path) == config
    (tmp_path / "experiment.yaml").write_text("name: [x")  # garbled: no identity
    assert read_experiment(tmp_path) is None

"""Hostile or mistaken YAML: bounded alias expansion, no Python tags, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlnoise.evaluation.grid import build_grid, load_grid
from rlnoise.experiments import load_config
from rlnoise.runs.yaml_loader import MAX_NODES, dump_yaml, load_yaml_file, load_yaml_text

HEAD = "name: x\nalgo: PPO\ntotal_timesteps: 100\nseeds: [0]\n"


def laughs(indent: str, levels: int = 9) -> str:
    """The "billion laughs": ``levels`` anchors of 9 aliases each, 9**levels values expanded."""
    lines = [f'{indent}l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_in_env_kwargs_is_refused_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(HEAD + "env:\n  id: CartPole-v1\n  kwargs:\n" + laughs("    "))
    with pytest.raises(ValueError, match=r"laughs.yaml:\d+:\d+: the document expands to more") as e:
        load_config(path)
    assert "\n" not in str(e.value)


def test_billion_laughs_in_a_grid_dynamics_make_kwargs_is_refused(tmp_path: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        "clean: true\ndynamics:\n  - env: Pendulum-v1\n    make_kwargs:\n"
        + laughs("      ")
        + "      g: *l8\n"
    )
    with pytest.raises(ValueError, match=r"grid.yaml:\d+:\d+: the document expands to more"):
        load_grid(grid)
    with pytest.raises(ValueError, match="the document expands to more"):
        build_grid(grid, "Pendulum-v1")
    # ... and as the evaluation grid a training config names.
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + f"env: Pendulum-v1\nevaluation: {grid}\n")
    with pytest.raises(ValueError, match=r"c.yaml: evaluation: .*grid.yaml:\d+:\d+: the doc"):
        load_config(path)


def test_aliases_within_the_bound_still_work() -> None:
    data = load_yaml_text("base: &b {n_envs: 4}\nenv:\n  <<: *b\n  id: CartPole-v1\n", "c.yaml")
    assert data["env"] == {"n_envs": 4, "id": "CartPole-v1"}
    small = laughs("", levels=5)  # 9**5 = 59049 values: below the bound
    assert MAX_NODES > 9**5 and len(load_yaml_text(small, "c.yaml")["l4"]) == 9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [1, *a]\n", r"c.yaml:1:11: an alias refers to a node that contains it"),
        ("[" * 200 + "]" * 200, r"c.yaml:1:\d+: nesting is deeper than 64 levels"),
        ("a: 1\nb: 2\na: 3\n", r"c.yaml:3:1: duplicate key 'a'"),
        ("a: *nowhere\n", r"c.yaml:1:4: found undefined alias 'nowhere'"),
        ("a: {b: 1\n", r"c.yaml:2:1: malformed YAML: expected ',' or '}'"),
        (
            "callbacks:\n  - !!python/object/apply:os.system [echo hi]\n",
            r"c.yaml:2:5: tag '!!python/object/apply:os.system' is not allowed: a config holds "
            r"plain data",
        ),
        ("a: !custom 1\n", r"c.yaml:1:4: tag '!custom' is not allowed"),
    ],
)
def test_refused_documents_give_one_line_with_file_line_column(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        load_yaml_text(text, "c.yaml")
    assert "\n" not in str(error.value)


def test_python_tag_in_a_config_file_an_override_and_a_grid_is_one_line(tmp_path: Path) -> None:
    tag = "!!python/object/apply:os.system [echo hi]"
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + f"env: CartPole-v1\ncallbacks:\n  - {tag}\n")
    with pytest.raises(ValueError, match=r"c.yaml:7:5: tag '!!python/object/apply:os.system'"):
        load_config(path)
    path.write_text(HEAD + "env: CartPole-v1\n")
    with pytest.raises(ValueError, match=r"c.yaml: --override seeds:1:1: tag '!!python") as error:
        load_config(path, [f"seeds={tag}"])
    assert "\n" not in str(error.value)
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"gaussian: {tag}\n")
    with pytest.raises(ValueError, match=r"grid.yaml:1:11: tag '!!python") as error:
        load_grid(grid)
    assert "\n" not in str(error.value)


def test_scientific_notation_is_a_number_as_in_yaml_1_2() -> None:
    data = load_yaml_text("a: 1e5\nb: 3e-4\nc: 1.0e5\nd: -2E+2\ne: e5\nf: 1.5\ng: '1e5'\n", "c")
    assert data == {"a": 1e5, "b": 3e-4, "c": 1e5, "d": -200.0, "e": "e5", "f": 1.5, "g": "1e5"}


def test_what_dump_yaml_writes_reads_back_equal() -> None:
    # PyYAML's own dumper writes the string "1e5" bare, which the loader reads as a number.
    data = {"s": "1e5", "t": "-2E+2", "f": 3e-4, "big": 1e10, "i": 7, "b": True, "n": None}
    data |= {"nested": [{"x": "1e5"}, [1, 2.5]], "text": "e5", "empty": {}}
    assert load_yaml_text(dump_yaml(data), "c") == data
    assert list(load_yaml_text(dump_yaml({"b": 1, "a": 2}), "c")) == ["b", "a"]  # order kept


def test_oversized_or_binary_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: [" + "1, " * 400_000 + "1]\n")
    with pytest.raises(ValueError, match=r"big.yaml: \d+ bytes is too large for a config"):
        load_yaml_file(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ValueError, match=r"bin\.yaml: not UTF-8 text"):
        load_yaml_file(binary)
    with pytest.raises(FileNotFoundError):
        load_yaml_file(tmp_path / "missing.yaml")

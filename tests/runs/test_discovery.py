"""Sweep roots: their members in the sweep's order; a damaged sweep.yaml is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlnoise.runs.discovery import SWEEP_FILE, expand_sweep_roots, sweep_members, write_sweep


def test_a_sweep_root_expands_to_its_members_and_other_directories_stay(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    root.mkdir()
    write_sweep(root, {"sweep": "s", "keys": ["x"], "members": ["x=2", "x=1"]})
    plain = str(tmp_path / "runs")
    assert expand_sweep_roots([plain, str(root)]) == [plain, str(root / "x=2"), str(root / "x=1")]
    assert sweep_members(tmp_path / "runs") is None


@pytest.mark.parametrize(
    "text",
    ["sweep: s\nmembers: []\n", "sweep: s\nmembers: [../elsewhere]\n", "[unclosed\n", "- a\n"],
    ids=["no-members", "a-path", "bad-yaml", "not-a-mapping"],
)
def test_a_damaged_sweep_file_is_one_line_naming_it(tmp_path: Path, text: str) -> None:
    (tmp_path / SWEEP_FILE).write_text(text)
    with pytest.raises(ValueError) as error:
        expand_sweep_roots([str(tmp_path)])
    message = str(error.value)
    assert message.startswith(f"sweep file {tmp_path / SWEEP_FILE} ") and "\n" not in message

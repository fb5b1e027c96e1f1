"""NoiseControl phases and events, ResampleRule, noise_phase, name selection, layer norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rlnoise.nn import NoiseControl, NoisyLinear, ResampleRule, insert_layer_norm, noise_phase
from rlnoise.nn.selection import default_weights, select_names


class Recorder:
    """A minimal injector that records what the control tells it."""

    def __init__(self) -> None:
        self.phases: list[str | None] = []
        self.events: list[str] = []

    def on_phase(self, phase: str | None) -> None:
        self.phases.append(phase)

    def on_event(self, event: str) -> None:
        self.events.append(event)

    def scales(self) -> dict[str, float]:
        return {"recorder": 1.0}


def test_phases_and_events_follow_sb3_calls() -> None:
    control, recorder = NoiseControl(), Recorder()
    control.register(recorder)
    control.set_training(False)  # collect_rollouts starts
    control.begin_acting(rows=2, episode_started=True)
    control.begin_acting(rows=2)
    control.set_training(True)  # train()
    control.set_training(False)
    control.begin_acting(rows=2)
    control.set_acting(False)  # predict() for evaluation
    assert recorder.phases == ["eval", "rollout", "train", "rollout", "eval"]
    assert recorder.events == [
        "rollout",
        "episode",
        "step",
        "step",
        "train",
        "rollout",
        "step",
    ]
    assert control.local_steps == 6


def test_pinned_phase_and_outside_clock() -> None:
    control = NoiseControl(clock=lambda: 123)
    assert control.step == 123
    control.set_step(7)
    assert control.step == 7
    with noise_phase(control, "rollout"):
        control.set_training(True)
        assert control.phase == "rollout"
    assert control.phase == "train"
    with pytest.raises(ValueError, match="phase must be one of"), noise_phase(control, "test"):
        pass


def test_suspended_turns_everything_off_and_back() -> None:
    control, recorder = NoiseControl(), Recorder()
    control.register(recorder)
    with control.suspended():
        assert control.effective_phase is None
    assert recorder.phases == ["eval", None, "eval"]


@pytest.mark.parametrize(
    ("resample", "events", "fired"),
    [
        ("episode", ["step", "episode", "update"], [False, True, False]),
        (3, ["step", "update", "step", "step", "step"], [False, False, False, True, False]),
    ],
)
def test_resample_rule(resample: object, events: list[str], fired: list[bool]) -> None:
    rule = ResampleRule(resample)  # type: ignore[arg-type]
    assert [rule.fires(e) for e in events] == fired


def test_resample_rule_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="resample"):
        ResampleRule("weekly")
    with pytest.raises(ValueError, match=">= 1"):
        ResampleRule(0)


def test_select_names_narrows_or_names_explicitly_and_lists_on_error() -> None:
    net = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3), nn.Linear(3, 1))
    universe = [name for name, _ in net.named_parameters()]
    candidates = default_weights(net)
    assert candidates == ["0.weight", "2.weight"]
    pick = select_names(["2.*"], candidates, universe, field="f", what="parameter")
    assert pick == ["2.weight"]  # narrows the default: no bias
    pick = select_names(["*.bias"], candidates, universe, field="f", what="parameter")
    assert pick == ["0.bias", "1.bias", "2.bias"]  # names entries outside the default
    with pytest.raises(ValueError, match=r"pattern 'actor\.\*' matches no parameter.*0\.weight"):
        select_names(["actor.*"], candidates, universe, field="f", what="parameter")


def test_default_weights_skip_noisy_layers_and_excluded_prefixes() -> None:
    net = nn.ModuleDict(
        {"noisy": NoisyLinear(2, 2, seed=0), "online": nn.Linear(2, 2), "target": nn.Linear(2, 2)}
    )
    assert default_weights(net, exclude=("target",)) == ["online.weight"]


def test_insert_layer_norm_is_in_place_and_idempotent() -> None:
    mlp = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU())
    alias = [mlp]
    assert insert_layer_norm(mlp, output_layer=False) == 2
    assert alias[0] is mlp
    assert [type(m).__name__ for m in mlp] == [
        "Linear",
        "LayerNorm",
        "ReLU",
        "Linear",
        "LayerNorm",
        "ReLU",
    ]
    assert insert_layer_norm(mlp, output_layer=False) == 0
    assert mlp(torch.ones(2, 3)).shape == (2, 8)

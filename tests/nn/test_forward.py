"""Perturbations around a module's forward pass: order, unwinding, restoring, no torch hooks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rlnoise.nn import NoiseControl, WeightNoise
from rlnoise.nn._forward import Perturbation, attach, attached, detach


class Logged(Perturbation):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def enter(self, module: nn.Module) -> None:
        self.log.append(f"enter {self.name}")

    def leave(self, module: nn.Module) -> None:
        self.log.append(f"leave {self.name}")

    def output(self, module: nn.Module, out: torch.Tensor) -> torch.Tensor:
        self.log.append(f"output {self.name}")
        return out + 1


def test_perturbations_run_in_order_and_unwind_in_reverse() -> None:
    log: list[str] = []
    layer = nn.Identity()
    first, second = Logged("a", log), Logged("b", log)
    attach(layer, first)
    attach(layer, second)
    attach(layer, first)  # idempotent
    assert layer(torch.zeros(1)).item() == 2.0
    assert log == ["enter a", "enter b", "leave b", "leave a", "output a", "output b"]
    assert attached(layer) == [first, second]


def test_leave_runs_even_when_the_forward_raises() -> None:
    log: list[str] = []
    layer = nn.Linear(2, 2)
    attach(layer, Logged("a", log))
    with pytest.raises(RuntimeError):
        layer(torch.zeros(3))  # wrong input size
    assert log == ["enter a", "leave a"]


def test_detaching_the_last_one_restores_the_module_exactly() -> None:
    layer = nn.Linear(2, 2)
    own = layer.forward
    layer.forward = own  # an instance forward set by someone else stays theirs
    first, second = Logged("a", []), Logged("b", [])
    attach(layer, first)
    attach(layer, second)
    detach(layer, first)
    assert attached(layer) == [second]
    detach(layer, second)
    detach(layer, second)  # no error when not attached
    assert vars(layer)["forward"] is own
    plain = nn.Linear(2, 2)
    attach(plain, first)
    detach(plain, first)
    assert "forward" not in vars(plain)


def test_weight_noise_uses_no_torch_hooks() -> None:
    # Hooks would send every call of the module down nn.Module's slow path.
    net, control = nn.Sequential(nn.Linear(3, 3), nn.Tanh()), NoiseControl()
    WeightNoise(net, "gaussian:0.1", control=control, names=["0.weight"], seed=0)
    control.set_training(True)
    x = torch.ones(1, 3)
    assert not torch.equal(net(x), net(x))
    layer = net[0]
    assert not (layer._forward_hooks or layer._forward_pre_hooks)
    control.set_training(False)
    assert attached(layer) == [] and torch.equal(net(x), net(x))

"""Perturbations around a module's forward pass, without torch hooks.

A forward (pre-)hook sends every call of its module down ``nn.Module``'s slow
path, the hook machinery, which costs microseconds per call: on the small
networks of RL that is a visible share of a training step. Network noise instead
puts one :class:`AroundForward` object in the module's instance ``forward``:
it calls the class's own forward between the perturbations of every injector
attached to that module, so the module keeps ``nn.Module``'s fast path. Other
code's hooks still run as usual, around it.

An injector attaches a :class:`Perturbation` (``enter`` before the forward pass,
``leave`` after it — always, even when the forward raises, in reverse order of
attachment so that stacked parameter shadows unwind — and ``output`` on the
result). Detaching the last one restores the module's forward exactly.

Example:
    >>> import torch
    >>> from torch import nn
    >>> class Double(Perturbation):
    ...     def output(self, module, out):
    ...         return out * 2
    >>> layer = nn.Identity()
    >>> double = Double()
    >>> attach(layer, double)
    >>> layer(torch.ones(1)).item()
    2.0
    >>> detach(layer, double)
    >>> "forward" in vars(layer)
    False
"""

from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["AroundForward", "Perturbation", "attach", "attached", "detach"]


class Perturbation:
    """What an injector does around one module's forward pass (each step optional)."""

    def enter(self, module: nn.Module) -> None:
        """Before the forward pass (e.g. put perturbed parameters in place)."""

    def leave(self, module: nn.Module) -> None:
        """After the forward pass, always (e.g. take them away again)."""

    def output(self, module: nn.Module, out: Any) -> Any:
        """The module's output as the rest of the network sees it."""
        return out


class AroundForward:
    """A module's forward pass wrapped in the perturbations attached to it."""

    __slots__ = ("entering", "leaving", "module", "outputs", "perturbations", "previous")

    def __init__(self, module: nn.Module, previous: Any) -> None:
        self.module = module
        self.previous = previous  # an instance forward that was there before; None: the class's
        self.perturbations: list[Perturbation] = []
        self.entering: list[Any] = []
        self.leaving: list[Any] = []
        self.outputs: list[Any] = []

    def rebuild(self) -> None:
        """Collect the steps again after the list of perturbations changed."""
        # Bound methods, collected once, only of the steps each perturbation overrides.
        base = Perturbation
        self.entering = [p.enter for p in self.perturbations if type(p).enter is not base.enter]
        self.leaving = [
            p.leave for p in reversed(self.perturbations) if type(p).leave is not base.leave
        ]
        self.outputs = [p.output for p in self.perturbations if type(p).output is not base.output]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module = self.module
        forward = self.previous
        for enter in self.entering:
            enter(module)
        try:
            if forward is None:
                out = type(module).forward(module, *args, **kwargs)
            else:
                out = forward(*args, **kwargs)
        finally:
            for leave in self.leaving:
                leave(module)
        for output in self.outputs:
            out = output(module, out)
        return out


def attached(module: nn.Module) -> list[Perturbation]:
    """The perturbations attached to ``module``, in order (empty when none)."""
    around = vars(module).get("forward")
    return list(around.perturbations) if isinstance(around, AroundForward) else []


def attach(module: nn.Module, perturbation: Perturbation) -> None:
    """Run ``perturbation`` around ``module``'s forward from now on (idempotent)."""
    around = vars(module).get("forward")
    if not isinstance(around, AroundForward):
        around = AroundForward(module, vars(module).get("forward"))
        vars(module)["forward"] = around  # plain attribute: past nn.Module.__setattr__
    if not any(p is perturbation for p in around.perturbations):
        around.perturbations.append(perturbation)
        around.rebuild()


def detach(module: nn.Module, perturbation: Perturbation) -> None:
    """Stop running ``perturbation`` around ``module``'s forward (no error if it was not)."""
    around = vars(module).get("forward")
    if not isinstance(around, AroundForward):
        return
    around.perturbations = [p for p in around.perturbations if p is not perturbation]
    if around.perturbations:
        around.rebuild()
    elif around.previous is None:
        del vars(module)["forward"]
    else:
        vars(module)["forward"] = around.previous

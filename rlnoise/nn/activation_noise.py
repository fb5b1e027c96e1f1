"""Activation noise: add a ``NoiseSpec``'s noise to the outputs of chosen modules.

A forward hook on each selected module (by default the hidden activation
functions of a policy's actor and critic) combines the module's output with a
fresh draw, from a generator the injector owns, on every forward pass:
Gaussian/uniform/Laplace noise (additive or multiplicative), ``dropout``
(multiplicative Bernoulli mask) or ``salt_pepper`` with explicit impulse
``values``. Hooks exist only while the noise is active (by default in the
``train`` phase), so other phases run the plain network.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from rlnoise.nn.control import NoiseControl
    >>> net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> control = NoiseControl()
    >>> noise = ActivationNoise(net, "dropout:0.5,phases=eval", control=control,
    ...                         names=["1"], seed=0)
    >>> x = torch.ones(4, 3)
    >>> bool(torch.equal(net(x), net(x)))
    False
    >>> control.set_training(True)
    >>> bool(torch.equal(net(x), net(x)))
    True
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from rlnoise.core.kinds import combine, unit_torch
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.nn._random import DeviceGenerators
from rlnoise.nn._spec_injector import SpecInjector
from rlnoise.nn.control import NoiseControl

__all__ = ["ACTIVATION_KINDS", "ActivationNoise", "check_activation_spec"]

ACTIVATION_KINDS = ("gaussian", "uniform", "laplace", "dropout", "salt_pepper")


def check_activation_spec(spec: NoiseSpecLike, field: str = "activation_noise") -> NoiseSpec:
    """Validate a spec for use on activations; raise ``ValueError`` naming ``field``.

    Example:
        >>> check_activation_spec("ou:0.1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: activation_noise: kind 'ou' is a process over time steps; ...
    """
    spec = as_noise_spec(spec)
    if spec.kind not in ACTIVATION_KINDS:
        raise ValueError(
            f"{field}: kind {spec.kind!r} is a process over time steps; activation noise is "
            f"drawn fresh per forward pass, use one of {list(ACTIVATION_KINDS)}"
        )
    if spec.kind == "salt_pepper" and spec.param_dict.get("values") is None:
        raise ValueError(
            f"{field}: salt_pepper on activations needs explicit impulse values "
            "(values=[low, high]); activations have no bounds to take them from"
        )
    if not isinstance(spec.scale, float):
        raise ValueError(f"{field}: scale must be a single number, got {spec.scale!r}")
    if spec.relative_to is not None:
        raise ValueError(
            f"{field}: relative_to={spec.relative_to!r} is not supported for activations; "
            "give an absolute scale"
        )
    if spec.clip == "space":
        raise ValueError(f"{field}: clip='space' needs bounds; give clip=[low, high]")
    if spec.resample not in (None, "call"):
        raise ValueError(
            f"{field}: activation noise is drawn fresh for every forward pass; "
            f"resample must be unset or 'call', got {spec.resample!r}"
        )
    return spec


class ActivationNoise(SpecInjector):
    """Noise on the outputs of selected modules of ``root``.

    Args:
        root: The network (a policy).
        spec: The noise.
        control: The phase control this noise follows.
        names: Module names (as in ``root.named_modules()``) whose outputs are noised.
        seed: Seed of this noise's generators.
        default_phases: Phases used when the spec gives none.
        label: Key in :meth:`scales` and logs.
        field: Option name used in error messages.
    """

    def __init__(
        self,
        root: nn.Module,
        spec: NoiseSpecLike,
        *,
        control: NoiseControl,
        names: Sequence[str],
        seed: int | None,
        default_phases: Sequence[str] = ("train",),
        label: str = "activation_noise",
        field: str = "activation_noise",
    ) -> None:
        checked = check_activation_spec(spec, field)
        if not names:
            raise ValueError(f"{field}: no modules selected")
        super().__init__(checked, control, label, default_phases)
        self.field = field
        self.names = list(names)
        self.modules = [root.get_submodule(name) for name in self.names]
        self._generators = DeviceGenerators(seed, key="activations")
        self._params = self.spec.param_dict
        self._clip = self.spec.clip if isinstance(self.spec.clip, tuple) else None
        self._fast_gaussian = (
            self.spec.kind == "gaussian"
            and self.spec.mode == "additive"
            and self._clip is None
            and self._schedule.is_constant
        )
        self._handles: list[RemovableHandle] = []
        self.listens = False  # fresh draws: resampling events mean nothing here
        control.register(self)

    def perturb(self, output: torch.Tensor) -> torch.Tensor:
        """``output`` with one fresh draw of the noise."""
        generator = self._generators.get(output.device)
        unit = unit_torch(
            self.spec.kind, generator, tuple(output.shape), device=output.device, dtype=output.dtype
        )
        scale = self.scale
        if self._is_mask:
            out = combine(
                self.spec.kind,
                str(self.spec.mode),
                output,
                unit,
                probability=scale,
                params=self._params,
            )
        elif self.spec.mode == "additive":
            out = output.add(unit, alpha=scale)
        else:
            out = torch.addcmul(output, output, unit, value=scale)
        if self._clip is not None:
            out = out.clamp(self._clip[0], self._clip[1])
        return out

    def _hook(self, name: str, module: nn.Module, args: Any, output: Any) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            raise ValueError(
                f"{self.field}: module {name!r} returns {type(output).__name__}, "
                "not a float tensor; choose modules whose output is a float tensor"
            )
        if self._fast_gaussian:
            # The common case in one draw and one fused add (the draw dominates the cost).
            generator = self._generators.get(output.device)
            noise = torch.randn(
                output.shape, generator=generator, device=output.device, dtype=output.dtype
            )
            return output.add(noise, alpha=self._base_scale)
        return self.perturb(output)

    @property
    def installed(self) -> bool:
        """Whether the hooks are in place."""
        return bool(self._handles)

    def on_phase(self, phase: str | None) -> None:
        if phase is not None and phase in self.phases:
            if not self._handles:
                for name, module in zip(self.names, self.modules, strict=True):
                    hook = functools.partial(self._hook, name)
                    self._handles.append(module.register_forward_hook(hook))
        else:
            for handle in self._handles:
                handle.remove()
            self._handles.clear()

    def on_event(self, event: str) -> None:
        """Activation noise is fresh per forward: no held sample to resample."""

    def __repr__(self) -> str:
        phases = "+".join(self.phases)
        return f"ActivationNoise({self.spec}, phases={phases}, modules={self.names})"

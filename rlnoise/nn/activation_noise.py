"""Activation noise: add a ``NoiseSpec``'s noise to the outputs of chosen modules.

A forward hook on each selected module (by default the hidden activation
functions of a policy's actor and critic) combines the module's output with a
fresh draw, from a generator the injector owns, on every forward pass:
Gaussian/uniform/Laplace noise (additive or multiplicative), ``dropout``
(multiplicative Bernoulli mask) or ``salt_pepper`` with explicit impulse
``values``. The noise is attached around the modules' forward passes only
while it is active (by default in the ``train`` phase), so other phases run the
plain network. Unit draws come from :func:`rlnoise.core.kinds.unit_torch` and
combine through :class:`rlnoise.core.combine.Combiner`; the scale is fused into
the combination (one kernel for ``x + scale * noise``).

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

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from rlnoise.core.combine import Combiner
from rlnoise.core.kinds import KINDS, fill_unit_torch
from rlnoise.core.random import DeviceGenerators
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.nn._forward import Perturbation, attach, detach
from rlnoise.nn._spec_injector import SpecInjector
from rlnoise.nn.control import NoiseControl

__all__ = ["ACTIVATION_KINDS", "ActivationNoise", "check_activation_spec"]

# Every stateless kind: a fresh draw per forward pass.
ACTIVATION_KINDS = tuple(name for name, info in KINDS.items() if not info.stateful)


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


class _OutputNoise(Perturbation):
    """Noise on one module's output, checked to be a float tensor.

    The unit draws go into a buffer kept per module (the same values as a fresh
    tensor, without the allocation) unless the combination keeps a reference to
    them for the backward pass (multiplicative noise).
    """

    def __init__(self, noise: ActivationNoise, name: str) -> None:
        self.noise = noise
        self.name = name
        self.buffer: torch.Tensor | None = None
        self.generator: torch.Generator | None = None  # the buffer's device's

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "buffer": None, "generator": None}

    def output(self, module: nn.Module, out: Any) -> torch.Tensor:
        buffer = self.buffer
        if (
            buffer is None
            or type(out) is not torch.Tensor
            or out.shape != buffer.shape
            or out.dtype != buffer.dtype
            or out.device != buffer.device
        ):
            buffer = self._new_buffer(out)
        noise = self.noise
        unit = fill_unit_torch(noise.kind, self.generator, buffer)  # type: ignore[arg-type]
        return noise.combiner(out, unit, noise.scale)

    def _new_buffer(self, out: Any) -> torch.Tensor:
        """A buffer for ``out`` (kept unless the combination holds on to it)."""
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            raise ValueError(
                f"{self.noise.field}: module {self.name!r} returns {type(out).__name__}, "
                "not a float tensor; choose modules whose output is a float tensor"
            )
        buffer = torch.empty(out.shape, dtype=out.dtype, device=out.device)
        self.generator = self.noise.generators.get(out.device)
        self.buffer = None if self.noise.combiner.keeps_noise else buffer
        return buffer


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
        self.generators = DeviceGenerators(seed, key="activations")
        self.kind = self.spec.kind
        clip = self.spec.clip if isinstance(self.spec.clip, tuple) else None
        self.combiner = Combiner(self.spec, clip=clip)
        self._outputs = [_OutputNoise(self, name) for name in self.names]
        self._installed = False
        self.listens = False  # fresh draws: resampling events mean nothing here
        control.register(self)

    def perturb(self, output: torch.Tensor, buffer: torch.Tensor | None = None) -> torch.Tensor:
        """``output`` with one fresh draw of the noise (drawn into ``buffer`` if given)."""
        if buffer is None:
            buffer = torch.empty_like(output, memory_format=torch.contiguous_format)
        unit = fill_unit_torch(self.kind, self.generators.get(output.device), buffer)
        return self.combiner(output, unit, self.scale)

    @property
    def installed(self) -> bool:
        """Whether the noise is applied on forward."""
        return self._installed

    def on_phase(self, phase: str | None) -> None:
        active = phase is not None and phase in self.phases
        if active and not self._installed:
            for module, output in zip(self.modules, self._outputs, strict=True):
                attach(module, output)
        elif not active and self._installed:
            for module, output in zip(self.modules, self._outputs, strict=True):
                detach(module, output)
        self._installed = active

    def on_event(self, event: str) -> None:
        """Activation noise is fresh per forward: no held sample to resample."""

    def __repr__(self) -> str:
        phases = "+".join(self.phases)
        return f"ActivationNoise({self.spec}, phases={phases}, modules={self.names})"

"""Weight noise: perturb chosen parameters of a network by a ``NoiseSpec``.

Two uses, picked by the spec's ``resample``:

- ``None`` / ``"call"`` — a fresh draw for every forward pass: a regulariser
  (Gaussian weight noise, DropConnect with ``dropout``), by default active in
  the ``train`` phase only;
- ``"step"``, ``"episode"``, ``"rollout"``, ``"update"`` or every N steps — one
  draw held between those events: exploration in weight space.

The perturbation is applied around the forward pass of the module that owns
each parameter (:mod:`rlnoise.nn._forward`, no torch hooks): ``param + noise``
goes in the module's ``__dict__`` before the pass (so the module's own
``self.weight`` reads it, and gradients flow to the clean parameter) and is
taken away after it. Stored parameters, ``state_dict()``, optimizers and
target-network copies only ever see the clean values. The perturbation is
attached only while the noise is active, so an inactive phase costs nothing.

Draws come from the core engine: a :class:`~rlnoise.core.blocks.UnitBlock`
per module, on the parameters' device, combined by
:mod:`rlnoise.core.combine` — fresh draws at a fixed scale as prepared blocks
(the additive noise, multiplicative factor or DropConnect mask ready), so that
a forward pass costs one operation per parameter and its backward one more.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from rlnoise.nn.control import NoiseControl
    >>> net = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> control = NoiseControl()
    >>> noise = WeightNoise(net, "gaussian:0.1,phases=eval", control=control,
    ...                     names=["0.weight"], seed=0)
    >>> x = torch.ones(1, 3)
    >>> bool(torch.equal(net(x), net(x)))  # a fresh draw per forward
    False
    >>> control.set_training(True)  # phase "train": not active
    >>> bool(torch.equal(net(x), net(x)))
    True
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rlnoise.core.blocks import UnitBlock, rows_per_block
from rlnoise.core.combine import Combiner, apply_prepared, prepare
from rlnoise.core.kinds import KINDS
from rlnoise.core.random import DeviceGenerators, TorchRowRandom
from rlnoise.core.spec import PHASES, NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.nn._forward import Perturbation, attach, detach
from rlnoise.nn._spec_injector import SpecInjector
from rlnoise.nn.control import NoiseControl, ResampleRule

__all__ = ["WEIGHT_KINDS", "WeightNoise", "check_weight_spec", "resolve_parameters"]

# Stateless kinds that perturb a value (salt_pepper replaces it by impulses).
WEIGHT_KINDS = tuple(
    name for name, info in KINDS.items() if not info.stateful and info.default_mode != "replace"
)
_MISSING = object()


def check_weight_spec(spec: NoiseSpecLike, field: str = "weight_noise") -> NoiseSpec:
    """Validate a spec for use on weights; raise ``ValueError`` naming ``field``.

    Example:
        >>> check_weight_spec("salt_pepper:0.1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: weight_noise: kind 'salt_pepper' makes no sense for weights ...
    """
    spec = as_noise_spec(spec)
    if spec.kind == "salt_pepper":
        raise ValueError(
            f"{field}: kind 'salt_pepper' makes no sense for weights (it replaces values by "
            f"impulses); use one of {list(WEIGHT_KINDS)} (dropout on weights is DropConnect)"
        )
    if spec.kind not in WEIGHT_KINDS:
        raise ValueError(
            f"{field}: kind {spec.kind!r} is a process over time steps, not a weight "
            f"perturbation; use one of {list(WEIGHT_KINDS)} with a 'resample' event to hold "
            "a draw over steps"
        )
    if not isinstance(spec.scale, float):
        raise ValueError(f"{field}: scale must be a single number, got {spec.scale!r}")
    if spec.relative_to == "range":
        raise ValueError(
            f"{field}: relative_to='range' needs bounds, which weights do not have; "
            "use relative_to='std' (scale x the parameter tensor's std) or none"
        )
    if spec.clip == "space":
        raise ValueError(f"{field}: clip='space' needs bounds; give clip=[low, high]")
    return spec


@dataclass
class _Target:
    name: str
    owner: nn.Module
    attr: str
    param: nn.Parameter


def resolve_parameters(root: nn.Module, names: Sequence[str], field: str) -> list[_Target]:
    """Find each named parameter's owning module; reject ones no submodule's forward reads."""
    targets = []
    for name in names:
        owner_name, _, attr = name.rpartition(".")
        if not owner_name:
            raise ValueError(
                f"{field}: parameter {name!r} belongs to the top-level module and is not read "
                "inside a submodule's forward pass, so it cannot be perturbed there"
            )
        owner = root.get_submodule(owner_name)
        param = dict(owner.named_parameters(recurse=False)).get(attr)
        if not isinstance(param, nn.Parameter):
            raise ValueError(f"{field}: {name!r} is not a parameter of {owner_name!r}")
        targets.append(_Target(name, owner, attr, param))
    return targets


class _OwnerNoise(Perturbation):
    """The perturbed parameters of one module, in place for its forward pass only.

    Each forward pass saves what the module's ``__dict__`` held for a parameter
    (a shadow of an earlier perturbation, or nothing) and puts it back after,
    so perturbations stacked on one module unwind in reverse order.
    """

    def __init__(self, noise: WeightNoise, targets: list[_Target], seed: int | None) -> None:
        self.noise = noise
        self.targets = targets
        self.attrs = [t.attr for t in targets]
        self.generators = DeviceGenerators(seed, key=targets[0].name)
        self.draws: UnitBlock | None = None
        self.held: tuple[torch.Tensor, ...] = ()
        self.saved: list[list[Any]] = [[] for _ in targets]

    def __getstate__(self) -> dict[str, Any]:
        # A held sample is a view of a whole block of draws: copy only the sample.
        return {**self.__dict__, "held": tuple(t.clone() for t in self.held)}

    def reseed(self, seed: int | None, transform: Any) -> None:
        """New generators from ``seed`` (as at construction) and a new block drawn from them."""
        self.generators = DeviceGenerators(seed, key=self.targets[0].name)
        self.make_draws(transform)

    def make_draws(self, transform: Any) -> None:
        """A block of unit draws (``transform``: prepared operands) on the parameters' device."""
        params = [t.param for t in self.targets]
        numel = sum(p.numel() for p in params)
        self.draws = UnitBlock(
            self.noise.spec.kind,
            (numel,),
            TorchRowRandom(self.generators),
            torch.float32,
            rows_per_block(numel),
            transform=transform,
            split=[tuple(p.shape) for p in params],
        )
        self.retarget()

    def retarget(self) -> None:
        """Draw on the device and in the dtype of the parameters."""
        first = self.targets[0].param
        assert self.draws is not None
        self.draws.retarget(first.device, first.dtype)

    def resample(self) -> None:
        """A new held draw (on the parameters' current device)."""
        assert self.draws is not None
        self.retarget()
        self.held = self.draws.step()

    def enter(self, module: nn.Module) -> None:
        noise, shadows = self.noise, module.__dict__
        draws = self.draws
        assert draws is not None
        if noise.prepared:
            operands, additive, clip = draws.step(), noise.additive, noise.combiner.clip
            for attr, target, stack, operand in zip(
                self.attrs, self.targets, self.saved, operands, strict=True
            ):
                current = shadows.get(attr, _MISSING)
                stack.append(current)
                base = target.param if current is _MISSING else current
                out = apply_prepared(additive, base, operand)
                shadows[attr] = out if clip is None else out.clamp(clip[0], clip[1])
            return
        if noise.fresh:
            self.retarget()  # follow the parameters, as a held draw does when resampled
            units = draws.step()
        else:
            units = self.held
        scale = noise.scale
        for attr, target, stack, unit in zip(
            self.attrs, self.targets, self.saved, units, strict=True
        ):
            current = shadows.get(attr, _MISSING)
            stack.append(current)
            base = target.param if current is _MISSING else current
            shadows[attr] = noise.perturb(base, unit, scale)

    def leave(self, module: nn.Module) -> None:
        shadows = module.__dict__
        for attr, stack in zip(self.attrs, self.saved, strict=True):
            previous = stack.pop() if stack else _MISSING
            if previous is _MISSING:
                shadows.pop(attr, None)
            else:
                shadows[attr] = previous


class WeightNoise(SpecInjector):
    """Perturb selected parameters of ``root`` according to ``spec``.

    Args:
        root: The network (a policy).
        spec: The noise (kinds: gaussian, uniform, laplace, dropout).
        control: The phase/event control this noise follows.
        names: Parameter names (as in ``root.named_parameters()``) to perturb.
        seed: Seed of this noise's generators.
        default_phases: Phases used when the spec gives none.
        default_resample: ``resample`` used when the spec gives none.
        label: Key in :meth:`scales` and logs.
        field: Option name used in error messages.
        register: Register with ``control`` (False when another injector drives this one).
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
        default_resample: str | int = "call",
        label: str = "weight_noise",
        field: str = "weight_noise",
        register: bool = True,
    ) -> None:
        checked = check_weight_spec(spec, field)
        if not names:
            raise ValueError(f"{field}: no parameters selected")
        super().__init__(checked, control, label, default_phases)
        resample = self.spec.resample if self.spec.resample is not None else default_resample
        self.resample_value = resample
        self.fresh = resample == "call"
        self.rule = None if self.fresh else ResampleRule(resample)
        self.targets = resolve_parameters(root, names, field)
        self.names = [t.name for t in self.targets]
        by_owner: dict[int, list[_Target]] = {}
        for target in self.targets:
            by_owner.setdefault(id(target.owner), []).append(target)
        self.owners = [_OwnerNoise(self, targets, seed) for targets in by_owner.values()]
        self.additive = self.spec.mode == "additive"
        self.relative_std = self.spec.relative_to == "std"
        clip = self.spec.clip if isinstance(self.spec.clip, tuple) else None
        self.combiner = Combiner(self.spec, clip=clip)
        # Fresh draws at a fixed scale are prepared a block at a time: the block holds
        # the ready additive noise, multiplicative factor or mask, so a forward pass
        # costs one operation on the parameter and its backward one more at most.
        self.prepared = self.fresh and self._schedule.is_constant and not self.relative_std
        self._make_draws()
        self._installed = False
        self.listens = not self.fresh  # a held sample waits for its resampling events
        if not self.fresh:
            self.resample()
        if register:
            control.register(self)

    def _make_draws(self) -> None:
        transform = None
        if self.prepared:
            # functools.partial of a module function, not a lambda: the policy stays picklable.
            rescale = bool(self.spec.param_dict.get("rescale", False))
            transform = functools.partial(
                prepare, self.spec.kind, str(self.spec.mode), rescale, self.scale
            )
        for owner in self.owners:
            owner.make_draws(transform)  # on the parameters' device and dtype

    # -- scale -------------------------------------------------------------------
    @property
    def base_scale(self) -> float:
        """The scale before the schedule (adaptive controllers change it)."""
        return self._base_scale

    def set_base_scale(self, scale: float) -> None:
        """Replace the scale before the schedule."""
        self._base_scale = float(scale)
        if self.prepared:
            self._make_draws()  # prepared blocks hold the old scale

    # -- draws -------------------------------------------------------------------
    def resample(self) -> None:
        """Draw a new held sample for every selected parameter."""
        for owner in self.owners:
            owner.resample()

    def reseed(self, seed: int | None) -> None:
        """Restart every draw from ``seed``, as a noise built with ``seed`` starts.

        A held sample is redrawn from the new generators: after ``reseed(s)``
        the noise holds what ``WeightNoise(..., seed=s)`` holds when built.
        """
        transform = self.owners[0].draws.transform if self.owners[0].draws is not None else None
        for owner in self.owners:
            owner.reseed(seed, transform)
        if not self.fresh:
            self.resample()

    def held_parameters(self) -> dict[str, torch.Tensor]:
        """The selected parameters as the held sample perturbs them, ``{name: tensor}``.

        What a forward pass reads for each parameter while the noise is
        installed (gradients flow to the clean parameters). Held draws only
        (``resample`` other than ``"call"``).
        """
        if self.fresh:
            raise ValueError(f"{self.label}: a noise drawn per call holds no sample")
        scale = self.scale
        return {
            target.name: self.perturb(target.param, unit, scale)
            for owner in self.owners
            for target, unit in zip(owner.targets, owner.held, strict=True)
        }

    def perturb(self, param: torch.Tensor, unit: torch.Tensor, scale: float) -> torch.Tensor:
        """``param`` combined with unit noise ``unit`` at ``scale`` (the spec's mode)."""
        if self.relative_std and not self._is_mask:
            return self.combiner(param, unit, param.detach().std() * scale)
        return self.combiner(param, unit, scale)

    # -- attaching ---------------------------------------------------------------
    @property
    def installed(self) -> bool:
        """Whether the noise is applied on forward."""
        return self._installed

    def install(self) -> None:
        """Apply the noise around the owners' forward passes (idempotent)."""
        if self._installed:
            return
        for owner in self.owners:
            owner.retarget()
            attach(owner.targets[0].owner, owner)
        self._installed = True

    def remove(self) -> None:
        """Stop applying the noise (idempotent)."""
        for owner in self.owners:
            detach(owner.targets[0].owner, owner)
        self._installed = False

    def retarget(self) -> None:
        """Follow the parameters to their device/dtype (after ``.to()``); redraw held noise."""
        for owner in self.owners:
            owner.retarget()
        if not self.fresh:
            self.resample()

    @contextlib.contextmanager
    def forced(self) -> Iterator[None]:
        """Apply the noise inside the block whatever the phase."""
        was_installed = self.installed
        self.install()
        try:
            yield
        finally:
            if not was_installed:
                self.remove()

    # -- control -----------------------------------------------------------------
    def on_phase(self, phase: str | None) -> None:
        if phase is not None and phase in self.phases:
            self.install()
        else:
            self.remove()

    def on_event(self, event: str) -> None:
        if self.rule is not None and self.rule.fires(event):
            self.resample()

    def __repr__(self) -> str:
        phases = "+".join(p for p in PHASES if p in self.phases)
        how = "fresh per forward" if self.fresh else f"held, resample={self.resample_value}"
        return f"WeightNoise({self.spec}, {how}, phases={phases}, params={self.names})"

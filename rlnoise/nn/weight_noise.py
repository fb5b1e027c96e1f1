"""Weight noise: perturb chosen parameters of a network by a ``NoiseSpec``.

Two uses, picked by the spec's ``resample``:

- ``None`` / ``"call"`` — a fresh draw for every forward pass: a regulariser
  (Gaussian weight noise, DropConnect with ``dropout``), by default active in
  the ``train`` phase only;
- ``"step"``, ``"episode"``, ``"rollout"``, ``"update"`` or every N steps — one
  draw held between those events: exploration in weight space.

The perturbation is applied around the forward pass of the module that owns
each parameter: a forward pre-hook puts ``param + noise`` in the module's
``__dict__`` (so the module's own ``self.weight`` reads it, and gradients flow
to the clean parameter) and a forward hook takes it away again. Stored
parameters, ``state_dict()``, optimizers and target-network copies only ever
see the clean values. Hooks exist only while the noise is active, so an
inactive phase costs nothing.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from rlnoise.core.spec import PHASES, NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.nn._random import BlockDraws, DeviceGenerators
from rlnoise.nn._spec_injector import SpecInjector
from rlnoise.nn.control import NoiseControl, ResampleRule

__all__ = ["WEIGHT_KINDS", "WeightNoise", "check_weight_spec", "resolve_parameters"]

WEIGHT_KINDS = ("gaussian", "uniform", "laplace", "dropout")
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
        param = owner._parameters.get(attr)
        if not isinstance(param, nn.Parameter):
            raise ValueError(f"{field}: {name!r} is not a parameter of {owner_name!r}")
        targets.append(_Target(name, owner, attr, param))
    return targets


def _mask_block(scale: float, keep_value: float, block: torch.Tensor) -> torch.Tensor:
    return (block >= scale).to(block.dtype).mul_(keep_value)


def _scale_block(scale: float, offset: float, block: torch.Tensor) -> torch.Tensor:
    block = block.mul_(scale)
    return block.add_(offset) if offset else block


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
        self._groups: dict[int, list[int]] = {}
        for index, target in enumerate(self.targets):
            self._groups.setdefault(id(target.owner), []).append(index)
        self._additive = self.spec.mode == "additive"
        self._rescale = bool(self.spec.param_dict.get("rescale", False))
        self._relative_std = self.spec.relative_to == "std"
        self._clip = self.spec.clip if isinstance(self.spec.clip, tuple) else None
        # Fresh draws at a fixed scale are prepared a block at a time: the block holds
        # the ready additive noise, multiplicative factor or mask, so a forward pass
        # costs one operation on the parameter and its backward one more at most.
        self._prepared = self.fresh and self._schedule.is_constant and not self._relative_std
        self._generators = {
            owner_id: DeviceGenerators(seed, key=self.targets[indices[0]].name)
            for owner_id, indices in self._groups.items()
        }
        self._draws: dict[int, BlockDraws] = {}
        self._make_draws()
        self._held: dict[int, torch.Tensor] = {}
        self._handles: list[RemovableHandle] = []
        self._saved: dict[int, list[Any]] = {index: [] for index in range(len(self.targets))}
        self.listens = not self.fresh  # a held sample waits for its resampling events
        if not self.fresh:
            self.resample()
        if register:
            control.register(self)

    def __getstate__(self) -> dict[str, Any]:
        # A held sample is a view of a whole block of draws: copy only the sample.
        return {**self.__dict__, "_held": {i: t.clone() for i, t in self._held.items()}}

    def _make_draws(self) -> None:
        transform = self._prepare_transform() if self._prepared else None
        for owner_id, indices in self._groups.items():
            params = [self.targets[i].param for i in indices]
            self._draws[owner_id] = BlockDraws(
                self.spec.kind,
                sum(p.numel() for p in params),
                self._generators[owner_id],
                shapes=[tuple(p.shape) for p in params],
                transform=transform,
            )
        self._retarget_draws()  # new draws start on the parameters' device and dtype

    def _prepare_transform(self) -> Callable[[torch.Tensor], torch.Tensor]:
        scale = self.scale
        # functools.partial of module functions, not lambdas: the policy stays picklable.
        if self._is_mask:
            keep_value = (1.0 / (1.0 - scale) if scale < 1.0 else 0.0) if self._rescale else 1.0
            return functools.partial(_mask_block, scale, keep_value)
        return functools.partial(_scale_block, scale, 0.0 if self._additive else 1.0)

    # -- scale -------------------------------------------------------------------
    @property
    def base_scale(self) -> float:
        """The scale before the schedule (adaptive controllers change it)."""
        return self._base_scale

    def set_base_scale(self, scale: float) -> None:
        """Replace the scale before the schedule."""
        self._base_scale = float(scale)
        if self._prepared:
            self._make_draws()  # prepared blocks hold the old scale

    # -- draws -------------------------------------------------------------------
    def resample(self) -> None:
        """Draw a new held sample for every selected parameter."""
        for owner_id, indices in self._groups.items():
            self._held.update(self._draw_group(owner_id, indices))

    def _draw_group(self, owner_id: int, indices: list[int]) -> dict[int, torch.Tensor]:
        first = self.targets[indices[0]].param
        draws = self._draws[owner_id].next(first.device, first.dtype)
        return dict(zip(indices, draws, strict=True))

    def perturb(self, param: torch.Tensor, unit: torch.Tensor, scale: float) -> torch.Tensor:
        """``param`` combined with unit noise ``unit`` at ``scale`` (the spec's mode)."""
        if self._is_mask:
            out = param * (unit >= scale)
            if self._rescale:
                out = out * (1.0 / (1.0 - scale)) if scale < 1.0 else out * 0.0
        elif self._relative_std:
            factor = param.detach().std() * scale
            out = param + unit * factor if self._additive else param + param * unit * factor
        elif self._additive:
            out = param.add(unit, alpha=scale)
        else:
            out = torch.addcmul(param, param, unit, value=scale)
        if self._clip is not None:
            out = out.clamp(self._clip[0], self._clip[1])
        return out

    def _apply_prepared(self, param: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        out = param + prepared if self._additive else param * prepared
        if self._clip is not None:
            out = out.clamp(self._clip[0], self._clip[1])
        return out

    # -- hooks -------------------------------------------------------------------
    def _pre_hook(self, owner_id: int, module: nn.Module, args: Any) -> None:
        indices = self._groups[owner_id]
        targets, shadows, saved = self.targets, module.__dict__, self._saved
        if self._prepared:
            # install() targeted the draws at the parameters' device and dtype.
            draws = self._draws[owner_id].next()
            for index, prepared in zip(indices, draws, strict=True):
                target = targets[index]
                current = shadows.get(target.attr, _MISSING)
                saved[index].append(current)
                base = target.param if current is _MISSING else current
                shadows[target.attr] = self._apply_prepared(base, prepared)
            return
        units = self._draw_group(owner_id, indices) if self.fresh else self._held
        scale = self.scale
        for index in indices:
            target = targets[index]
            current = shadows.get(target.attr, _MISSING)
            saved[index].append(current)
            base = target.param if current is _MISSING else current
            shadows[target.attr] = self.perturb(base, units[index], scale)

    def _post_hook(self, owner_id: int, module: nn.Module, args: Any, output: Any) -> None:
        shadows = module.__dict__
        for index in self._groups[owner_id]:
            attr = self.targets[index].attr
            stack = self._saved[index]
            previous = stack.pop() if stack else _MISSING
            if previous is _MISSING:
                shadows.pop(attr, None)
            else:
                shadows[attr] = previous

    @property
    def installed(self) -> bool:
        """Whether the hooks are in place (the noise is applied on forward)."""
        return bool(self._handles)

    def install(self) -> None:
        """Put the hooks in place (idempotent)."""
        if self._handles:
            return
        self._retarget_draws()
        for owner_id, indices in self._groups.items():
            owner = self.targets[indices[0]].owner
            self._handles.append(
                owner.register_forward_pre_hook(functools.partial(self._pre_hook, owner_id))
            )
            # Prepended and always called: hooks of stacked perturbations unwind in reverse.
            self._handles.append(
                owner.register_forward_hook(
                    functools.partial(self._post_hook, owner_id), prepend=True, always_call=True
                )
            )

    def _retarget_draws(self) -> None:
        for owner_id, indices in self._groups.items():
            first = self.targets[indices[0]].param
            self._draws[owner_id].retarget(first.device, first.dtype)

    def retarget(self) -> None:
        """Follow the parameters to their device/dtype (after ``.to()``); redraw held noise."""
        self._retarget_draws()
        if not self.fresh:
            self.resample()

    def remove(self) -> None:
        """Take the hooks away (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

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

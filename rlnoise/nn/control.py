"""When network noise is on: rlnoise's own phase flags, resampling events and a step clock.

Stable-Baselines3 calls ``policy.set_training_mode(False)`` both while it
collects rollouts and in every ``predict``, and ``True`` only inside
``train()``, so ``module.training`` cannot tell acting from evaluation. A
:class:`NoiseControl` keeps the phase explicitly:

- ``train`` while the policy is in training mode,
- ``rollout`` while the policy acts for the algorithm's own rollout collection,
- ``eval`` otherwise (``predict`` for evaluation, callbacks, user code),

unless a phase is pinned with :func:`noise_phase`. Every injector registered
with the control (weight noise, activation noise, NoisyNet layers, parameter
noise) is told the phase when it changes and switches itself on or off; when
it is off it costs nothing (its hooks are removed). The control also relays
the events that resample held noise (``step``, ``episode``, ``rollout``,
``update``, ``train``) and keeps the step count that schedules read.

Example:
    >>> control = NoiseControl()
    >>> control.phase
    'eval'
    >>> control.set_training(True)
    >>> control.phase
    'train'
    >>> control.set_training(False)
    >>> control.begin_acting(rows=1)
    >>> control.phase, control.step
    ('rollout', 1)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from torch import nn

from rlnoise.core.checks import check_choice, show
from rlnoise.core.spec import PHASES

__all__ = [
    "EVENTS",
    "NoiseControl",
    "NoiseInjector",
    "ResampleRule",
    "find_noise_controls",
    "noise_disabled",
    "noise_phase",
]

EVENTS = ("step", "episode", "rollout", "update", "train")


class NoiseInjector(Protocol):
    """What a :class:`NoiseControl` drives."""

    def on_phase(self, phase: str | None) -> None:
        """Switch on or off for ``phase`` (``None``: all noise off)."""

    def on_event(self, event: str) -> None:
        """React to a resampling event (one of :data:`EVENTS`).

        An injector with a ``listens`` attribute set to False is never sent events.
        """

    def scales(self) -> dict[str, float]:
        """Current scale(s) for logging."""


class ResampleRule:
    """Which events redraw a held noise sample: a ``resample`` value of a spec.

    Args:
        resample: ``"step"``, ``"episode"``, ``"rollout"``, ``"update"`` (a
            gradient update), ``"train"`` (entering ``train()``), or an int N:
            every N acting steps.

    Example:
        >>> rule = ResampleRule(2)
        >>> [rule.fires("step") for _ in range(4)]
        [False, True, False, True]
    """

    def __init__(self, resample: str | int) -> None:
        if isinstance(resample, int) and not isinstance(resample, bool):
            if resample < 1:
                raise ValueError(f"resample must be >= 1 steps, got {resample}")
            self.events: frozenset[str] = frozenset()
            self.every: int | None = resample
        else:
            self.events = frozenset({check_choice("resample", resample, EVENTS)})
            self.every = None
        self._steps = 0

    def fires(self, event: str) -> bool:
        """Whether ``event`` triggers a resample (counting steps for every-N rules)."""
        if self.every is not None:
            if event != "step":
                return False
            self._steps += 1
            if self._steps >= self.every:
                self._steps = 0
                return True
            return False
        return event in self.events


class NoiseControl:
    """The phase, on/off switch, events and clock shared by one policy's noise injectors.

    Attributes:
        training: Mirrors ``policy.set_training_mode``.
        acting: True while (and after) the policy acts for rollout collection,
            until a non-acting call comes in.
        pinned: A phase forced by :func:`noise_phase`, or ``None``.
        enabled: False inside :func:`noise_disabled`.
        clock: Returns the step count schedules read when no outside clock
            has set it (e.g. the algorithm's ``num_timesteps``).
    """

    def __init__(self, clock: Callable[[], int | None] | None = None) -> None:
        self.training = False
        self.acting = False
        self.pinned: str | None = None
        self.enabled = True
        self.clock = clock
        self.injectors: list[Any] = []
        # Only injectors with a held sample care about events (fresh draws ignore them).
        self._event_injectors: list[Any] = []
        self.local_steps = 0
        self._external_step: int | None = None
        self._pushed: str | bool | None = False  # False: nothing pushed yet
        self._acted_since_training = False
        self._listeners: list[Callable[[str], None]] = []

    # -- registration ------------------------------------------------------------
    def register(self, injector: Any) -> None:
        """Add an injector; it is told the current phase at once."""
        self.injectors.append(injector)
        if getattr(injector, "listens", True):
            self._event_injectors.append(injector)
        self._pushed = self.effective_phase  # every injector heard it (phases change via sync)
        injector.on_phase(self._pushed)

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(event)`` on every event (after the injectors)."""
        self._listeners.append(listener)

    # -- phase -------------------------------------------------------------------
    @property
    def phase(self) -> str:
        """``train``, ``rollout`` or ``eval`` (a pinned phase wins)."""
        if self.pinned is not None:
            return self.pinned
        if self.training:
            return "train"
        return "rollout" if self.acting else "eval"

    @property
    def effective_phase(self) -> str | None:
        """The phase injectors see: ``None`` while noise is disabled."""
        return self.phase if self.enabled else None

    def sync(self) -> None:
        """Tell the injectors the phase if it changed since they last heard."""
        phase = self.effective_phase
        if phase == self._pushed:
            return
        self._pushed = phase
        for injector in self.injectors:
            injector.on_phase(phase)

    def set_training(self, mode: bool) -> None:
        """Follow ``set_training_mode``; entering training emits ``train``."""
        mode = bool(mode)
        entering = mode and not self.training
        self.training = mode
        if mode:
            self._acted_since_training = False
        self.sync()
        if entering:
            self.emit("train")

    def set_acting(self, acting: bool) -> None:
        """Mark calls as acting for rollout collection (True) or not (False)."""
        self.acting = bool(acting)
        self.sync()

    def begin_acting(self, rows: int = 1, episode_started: bool = False) -> None:
        """An acting step for rollout collection: phase ``rollout`` and its events.

        Emits ``rollout`` on the first acting step after training (or ever),
        ``episode`` when an episode (re)started, then ``step``.
        """
        if not self.acting:
            self.acting = True
            self.sync()
        elif self._pushed != self.effective_phase:
            self.sync()
        if not self._acted_since_training:
            self._acted_since_training = True
            self.emit("rollout")
        if episode_started:
            self.emit("episode")
        self.local_steps += int(rows)
        self.emit("step")

    def emit(self, event: str) -> None:
        """Relay ``event`` to every injector and listener."""
        for injector in self._event_injectors:
            injector.on_event(event)
        for listener in self._listeners:
            listener(event)

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """All injectors off inside the block, whatever the phase (for measurements)."""
        previous = self.enabled
        self.enabled = False
        self.sync()
        try:
            yield
        finally:
            self.enabled = previous
            self.sync()

    # -- clock -------------------------------------------------------------------
    @property
    def step(self) -> int:
        """The step count schedules read: outside clock, else ``clock()``, else local steps."""
        if self._external_step is not None:
            return self._external_step
        if self.clock is not None:
            value = self.clock()
            if value is not None:
                return int(value)
        return self.local_steps

    def set_step(self, step: int) -> None:
        """Set the step from an outside clock (it then stops following ``clock``)."""
        self._external_step = int(step)

    def scales(self) -> dict[str, float]:
        """Every injector's current scales, merged."""
        out: dict[str, float] = {}
        for injector in self.injectors:
            out.update(injector.scales())
        return out


def find_noise_controls(model: Any) -> list[NoiseControl]:
    """The noise controls of an SB3 algorithm, a policy, or any ``nn.Module``."""
    target = model
    policy = getattr(model, "policy", None)
    if isinstance(policy, nn.Module):
        target = policy
    if not isinstance(target, nn.Module):
        raise ValueError(
            f"expected an SB3 algorithm, a policy or an nn.Module, got {type(model).__name__}"
        )
    controls: list[NoiseControl] = []
    for module in target.modules():
        control = getattr(module, "noise_control", None)
        if isinstance(control, NoiseControl) and all(c is not control for c in controls):
            controls.append(control)
    return controls


def _free_noisy_layers(model: Any) -> list[Any]:
    """NoisyLinear layers that no control drives (a user's own network)."""
    from rlnoise.nn.noisy_linear import NoisyLinear

    policy = getattr(model, "policy", None)
    target = policy if isinstance(policy, nn.Module) else model
    if not isinstance(target, nn.Module) or find_noise_controls(target):
        return []
    return [m for m in target.modules() if isinstance(m, NoisyLinear)]


@contextlib.contextmanager
def noise_disabled(model: Any) -> Iterator[None]:
    """Turn all of a model's network noise off inside the block.

    Works on an SB3 algorithm, a noisy policy, or any ``nn.Module`` holding
    :class:`~rlnoise.nn.NoisyLinear` layers. NoisyNet layers use their means,
    weight, activation and parameter noise are removed. A model without
    rlnoise noise is left as it is.

    Example:
        >>> import torch
        >>> from rlnoise.nn import NoisyLinear
        >>> layer = NoisyLinear(3, 2, seed=0)
        >>> with noise_disabled(layer):
        ...     clean = layer(torch.ones(1, 3))
        >>> bool(torch.allclose(clean, layer.weight_mu.sum(1) + layer.bias_mu))
        True
        >>> layer.noise_enabled
        True
    """
    controls = find_noise_controls(model)
    layers = _free_noisy_layers(model)
    previous_controls = [c.enabled for c in controls]
    previous_layers = [layer.noise_enabled for layer in layers]
    for control in controls:
        control.enabled = False
        control.sync()
    for layer in layers:
        layer.noise_enabled = False
    try:
        yield
    finally:
        for control, enabled in zip(controls, previous_controls, strict=True):
            control.enabled = enabled
            control.sync()
        for layer, enabled in zip(layers, previous_layers, strict=True):
            layer.noise_enabled = enabled


@contextlib.contextmanager
def noise_phase(model: Any, phase: str) -> Iterator[None]:
    """Pin a model's noise phase (``rollout``, ``train`` or ``eval``) inside the block.

    For code that calls a policy's networks outside SB3's own loop, e.g. an
    evaluation that should see exactly what acting saw.

    Example:
        >>> from rlnoise.nn.control import NoiseControl
        >>> with noise_phase(NoiseControl(), "rollout"):
        ...     pass
    """
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {list(PHASES)}, got {show(phase)}")
    controls = [model] if isinstance(model, NoiseControl) else find_noise_controls(model)
    previous = [c.pinned for c in controls]
    for control in controls:
        control.pinned = phase
        control.sync()
    try:
        yield
    finally:
        for control, pinned in zip(controls, previous, strict=True):
            control.pinned = pinned
            control.sync()

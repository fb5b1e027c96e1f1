"""Parameter-space exploration with an adaptive scale (Plappert et al., 2018).

The actor that acts is the learning actor with every selected parameter
perturbed by ``sigma * eps``; ``eps`` is held between resampling events (each
episode, or each rollout) and learning uses the unperturbed actor. ``sigma``
is adapted multiplicatively (x/÷ 1.01 by default,
:class:`rlnoise.core.adaptive.AdaptiveScaleController`) so that the distance
between the perturbed and the clean actor, measured on recently visited
states, stays at a target:

- continuous actions: the RMS distance between the two actors' actions,
  ``sqrt(mean((pi(s) - pi~(s))^2))``;
- DQN: ``KL(softmax(Q(s)) || softmax(Q~(s)))``, with the target
  ``delta = -log(1 - eps + eps/|A|)`` of the epsilon-greedy policy it replaces
  (:func:`rlnoise.core.adaptive.dqn_distance_target`).

The perturbation is applied through the same hooks as
:class:`~rlnoise.nn.weight_noise.WeightNoise` (in the ``rollout`` phase by
default), so the perturbed actor is always "current weights + held noise":
no copy of the network to keep in sync.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from rlnoise.nn.control import NoiseControl
    >>> actor = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2), nn.Tanh())
    >>> control = NoiseControl()
    >>> noise = ParameterNoise(actor, "gaussian:0.5,adaptive=0.01", control=control,
    ...                        names=["0.weight", "2.weight"], seed=0, output_fn=actor,
    ...                        distance="rms", recorder=actor, adapt_every=1)
    >>> for _ in range(3):
    ...     control.begin_acting()
    ...     _ = actor(torch.randn(4, 3))
    >>> noise.sigma < 0.5  # far above the target distance: sigma shrinks
    True
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.hooks import RemovableHandle

from rlnoise.core.adaptive import AdaptiveScale, AdaptiveScaleController
from rlnoise.core.checks import check_int
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.nn.control import NoiseControl, ResampleRule
from rlnoise.nn.weight_noise import WeightNoise

__all__ = [
    "PARAM_NOISE_KINDS",
    "ParameterNoise",
    "action_rms_distance",
    "check_param_spec",
    "softmax_kl_distance",
]

PARAM_NOISE_KINDS = ("gaussian", "uniform", "laplace")
DISTANCES = ("rms", "kl")


def action_rms_distance(clean: torch.Tensor, perturbed: torch.Tensor) -> float:
    """``sqrt(mean((clean - perturbed)^2))`` over the batch and action dimensions.

    Example:
        >>> action_rms_distance(torch.zeros(2, 2), torch.ones(2, 2))
        1.0
    """
    return float(torch.sqrt(torch.mean((clean - perturbed) ** 2)))


def softmax_kl_distance(clean: torch.Tensor, perturbed: torch.Tensor) -> float:
    """Mean over the batch of ``KL(softmax(clean) || softmax(perturbed))`` (Q-values or logits).

    Example:
        >>> q = torch.tensor([[1.0, 2.0]])
        >>> softmax_kl_distance(q, q)
        0.0
    """
    log_p = F.log_softmax(clean, dim=-1)
    log_q = F.log_softmax(perturbed, dim=-1)
    return float(torch.sum(log_p.exp() * (log_p - log_q), dim=-1).mean().clamp_min(0.0))


def check_param_spec(spec: NoiseSpecLike, field: str = "param_noise") -> NoiseSpec:
    """Validate a spec for parameter-space noise; raise ``ValueError`` naming ``field``."""
    spec = as_noise_spec(spec)
    if spec.kind not in PARAM_NOISE_KINDS:
        raise ValueError(
            f"{field}: kind {spec.kind!r} is not a parameter perturbation; use one of "
            f"{list(PARAM_NOISE_KINDS)} (Plappert et al. use gaussian)"
        )
    if spec.resample == "call":
        raise ValueError(
            f"{field}: parameter noise holds one perturbation between resamples; resample "
            "must be 'episode', 'rollout', 'step', 'update' or a step count, not 'call'"
        )
    return spec


def _concat(batches: Sequence[Any]) -> Any:
    if isinstance(batches[0], dict):
        return {key: torch.cat([b[key] for b in batches]) for key in batches[0]}
    return torch.cat(list(batches))


def _rows(batch: Any) -> int:
    if isinstance(batch, dict):
        return int(next(iter(batch.values())).shape[0])
    return int(batch.shape[0])


class ParameterNoise:
    """A held, adaptively scaled perturbation of selected parameters (the acting actor).

    Args:
        root: The network holding the parameters (a policy).
        spec: The noise: ``scale`` is the initial sigma, ``adaptive`` the target
            distance and coefficient (default ``default_target``).
        control: The phase/event control.
        names: Parameter names to perturb (the actor's).
        seed: Seed of the perturbation's generators.
        output_fn: Maps a batch of observations to the actor's output (actions,
            or Q-values for DQN), called without the noise and with it.
        distance: ``"rms"`` (actions) or ``"kl"`` (softmax of Q-values/logits).
        recorder: Module whose input observations (while acting) are kept for
            the distance measurement.
        default_target: Target distance when the spec has no ``adaptive``; a
            float or a function returning the current target (DQN's
            epsilon-equivalent target follows the exploration schedule).
        default_phases: Phases with the perturbation on, when the spec gives none.
        default_resample: Resampling event when the spec gives none.
        adapt_every: Also adapt every this many acting steps (0: only at resamples).
        memory: Observations (rows) kept for the measurement.
    """

    def __init__(
        self,
        root: nn.Module,
        spec: NoiseSpecLike,
        *,
        control: NoiseControl,
        names: Sequence[str],
        seed: int | None,
        output_fn: Callable[[Any], torch.Tensor],
        distance: str,
        recorder: nn.Module,
        default_target: float | Callable[[], float] = 0.2,
        default_phases: Sequence[str] = ("rollout",),
        default_resample: str | int = "episode",
        adapt_every: int = 50,
        memory: int = 256,
    ) -> None:
        spec = check_param_spec(spec)
        if distance not in DISTANCES:
            raise ValueError(f"distance must be one of {list(DISTANCES)}, got {distance!r}")
        self.spec = spec
        self.control = control
        self.phases = tuple(spec.phases if spec.phases is not None else default_phases)
        resample = spec.resample if spec.resample is not None else default_resample
        self.rule = ResampleRule(resample)
        self.weights = WeightNoise(
            root,
            spec.replace(phases=self.phases, resample=resample),
            control=control,
            names=names,
            seed=seed,
            label="param_noise",
            field="param_noise",
            register=False,
        )
        self.names = self.weights.names
        self.output_fn = output_fn
        self.distance_fn = action_rms_distance if distance == "rms" else softmax_kl_distance
        self.distance_name = distance
        self.recorder = recorder
        self._target_fn = default_target if callable(default_target) else None
        config = spec.adaptive
        if config is None:
            first = self._target_fn() if self._target_fn is not None else default_target
            config = AdaptiveScale(target=max(float(first), 1e-8))  # type: ignore[arg-type]
        else:
            self._target_fn = None
        self.controller = AdaptiveScaleController(float(spec.scale), config)  # type: ignore[arg-type]
        self.adapt_every = check_int("adapt_every", adapt_every, low=0)
        self.memory = check_int("memory", memory, low=1)
        self._observations: collections.deque[Any] = collections.deque()
        self._rows = 0
        self._steps = 0
        self._handle: RemovableHandle | None = None
        self._measuring = False
        control.register(self)

    # -- state -------------------------------------------------------------------
    @property
    def sigma(self) -> float:
        """The current perturbation scale."""
        return self.controller.scale

    @property
    def target(self) -> float:
        """The distance the scale is adapted towards."""
        return self.controller.config.target

    @property
    def last_distance(self) -> float | None:
        """The distance measured at the last adaptation (``None`` before the first)."""
        return self.controller.last_distance

    def scales(self) -> dict[str, float]:
        return {"param_noise": self.sigma}

    def diagnostics(self) -> dict[str, float]:
        """Measured distance and its target, for logging."""
        out = {"param_noise_target": self.target}
        if self.last_distance is not None:
            out["param_noise_distance"] = self.last_distance
        return out

    # -- recording ---------------------------------------------------------------
    def _record(self, module: nn.Module, args: Any) -> None:
        if self._measuring or not args:
            return
        obs = args[0]
        if isinstance(obs, dict):
            obs = {key: value.detach() for key, value in obs.items()}
        elif isinstance(obs, torch.Tensor):
            obs = obs.detach()
        else:
            return
        self._observations.append(obs)
        self._rows += _rows(obs)
        while self._observations and self._rows - _rows(self._observations[0]) >= self.memory:
            self._rows -= _rows(self._observations.popleft())

    # -- adaptation --------------------------------------------------------------
    def measure(self) -> float | None:
        """Distance between the clean and the perturbed output on the kept observations."""
        if not self._observations:
            return None
        batch = _concat(list(self._observations))
        self._measuring = True
        try:
            with torch.no_grad(), self.control.suspended():
                clean = self.output_fn(batch)
                with self.weights.forced():
                    perturbed = self.output_fn(batch)
        finally:
            self._measuring = False
        return self.distance_fn(clean, perturbed)

    def adapt(self) -> None:
        """Measure the distance and move sigma one step towards the target."""
        if self._target_fn is not None:
            target = max(float(self._target_fn()), 1e-8)
            self.controller.config = dataclasses.replace(self.controller.config, target=target)
        distance = self.measure()
        if distance is None or math.isnan(distance):
            return
        self.weights.set_base_scale(self.controller.update(distance))

    def retarget(self) -> None:
        """Follow the parameters to their device (after ``.to()``)."""
        self.weights.retarget()
        self._observations.clear()
        self._rows = 0

    # -- control -----------------------------------------------------------------
    def on_phase(self, phase: str | None) -> None:
        self.weights.on_phase(phase)
        active = phase is not None and phase in self.phases
        if active and self._handle is None:
            self._handle = self.recorder.register_forward_pre_hook(self._record)
        elif not active and self._handle is not None:
            self._handle.remove()
            self._handle = None

    def on_event(self, event: str) -> None:
        adapted = False
        if event == "step":
            self._steps += 1
            if self.adapt_every and self._steps % self.adapt_every == 0:
                self.adapt()
                adapted = True
        if self.rule.fires(event):
            if not adapted:
                self.adapt()
            self.weights.resample()

    def __repr__(self) -> str:
        return (
            f"ParameterNoise(sigma={self.sigma:.4g}, target={self.target:.4g} "
            f"({self.distance_name}), phases={'+'.join(self.phases)}, params={self.names})"
        )

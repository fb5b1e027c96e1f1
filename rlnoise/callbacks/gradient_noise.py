"""Gradient noise for any Stable-Baselines3 algorithm (Neelakantan et al., 2015).

SB3 calls ``loss.backward()``, maybe clips the gradient norm, and calls
``optimizer.step()`` inside ``train()``, with no callback in between. The noise
therefore goes in through torch hooks, attached when ``learn()`` starts to
every optimizer the algorithm owns (PPO/A2C/DQN: ``policy.optimizer``; SAC and
TQC: ``actor.optimizer``, ``critic.optimizer`` and ``ent_coef_optimizer``;
TD3/DDPG: ``actor.optimizer``, ``critic.optimizer``) and removed when it ends.

Where the noise lands (``position``):

- ``"after_clip"`` (default): an optimizer step pre-hook adds the noise to
  ``param.grad`` just before ``optimizer.step()``, after SB3 clipped the
  gradient norm (PPO/A2C/DQN clip with ``max_grad_norm``). The optimizer sees
  ``clip(g) + noise``: the noise keeps its scheduled size whatever the clip.
- ``"before_clip"``: a post-accumulate-grad hook on each parameter adds the
  noise to ``param.grad`` as ``backward()`` writes it, so the optimizer sees
  ``clip(g + noise)``: the noise counts towards the norm and is clipped with
  the gradient. With PPO's ``max_grad_norm=0.5``, noise of std 0.1 over ~9k
  parameters has norm ~9 and the clipped update is then mostly noise. SB3's
  algorithms zero the gradients before every backward pass; code that
  accumulates several backward passes into one step gets the update's noise
  once per pass.

``t``, the step count of the schedule, is the number of steps the optimizer has
taken (one count per optimizer, as optax counts per transformation; TD3's
delayed actor counts its own, fewer, updates). It is stored in the optimizer's
first parameter group under :data:`UPDATE_COUNT_KEY`, so it travels with the
optimizer's state dict through ``model.save()`` / ``load()``. A shared clock
(:class:`~rlnoise.callbacks.schedule.NoiseScheduleCallback`) can set ``t`` to
the model's ``num_timesteps`` instead, through :meth:`set_noise_step`.

Example:
    >>> from stable_baselines3 import PPO
    >>> model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, n_epochs=1,
    ...             device="cpu", seed=0)
    >>> callback = GradientNoiseCallback(eta=0.3, seed=0)
    >>> _ = model.learn(128, callback=callback)
    >>> callback.n_updates  # 2 rollouts x 2 minibatches
    4
    >>> round(callback.noise_scales()["grad_std"], 4)  # sqrt(0.3 / (1 + 4) ** 0.55)
    0.3518
"""

from __future__ import annotations

import fnmatch
import math
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch
from stable_baselines3.common.callbacks import BaseCallback

from rlnoise.callbacks._model import find_optimizers, parameter_names
from rlnoise.callbacks.sources import register_training_source, unregister_training_source
from rlnoise.core.checks import check_choice, check_float, check_int, show
from rlnoise.core.combine import Combiner
from rlnoise.core.kinds import stationary_std
from rlnoise.core.random import derive_seed, make_torch_generator
from rlnoise.core.schedules import AnnealedSchedule
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.core.stream import NoiseStream

__all__ = ["POSITIONS", "UPDATE_COUNT_KEY", "GradientNoiseCallback", "gradient_noise_spec"]

POSITIONS = ("after_clip", "before_clip")
UPDATE_COUNT_KEY = "rlnoise_gradient_noise_updates"

# Which callback's hooks sit on an optimizer: never two at once.
_HOOK_OWNERS: weakref.WeakKeyDictionary[torch.optim.Optimizer, GradientNoiseCallback] = (
    weakref.WeakKeyDictionary()
)


def gradient_noise_spec(eta: float = 0.01, gamma: float = 0.55) -> NoiseSpec:
    """Neelakantan et al.'s noise: Gaussian with variance ``eta / (1 + t)^gamma``.

    Example:
        >>> gradient_noise_spec(0.3).to_dict()["schedule"]
        {'type': 'annealed', 'eta': 0.3, 'gamma': 0.55}
    """
    schedule = AnnealedSchedule(
        eta=check_float("eta", eta, low=0.0), gamma=check_float("gamma", gamma, low=0.0)
    )
    return NoiseSpec("gaussian", scale=1.0, schedule=schedule)


def _check_gradient_spec(spec: NoiseSpec) -> NoiseSpec:
    if not isinstance(spec.scale, float):
        raise ValueError(
            f"gradient noise takes one scale for every parameter, got {show(spec.scale)}"
        )
    if spec.relative_to is not None:
        raise ValueError(
            f"relative_to must be null for gradient noise, got {show(spec.relative_to)}"
        )
    if spec.clip == "space":
        raise ValueError("clip='space' has no meaning for gradients; give clip as [low, high]")
    if spec.phases is not None and "train" not in spec.phases:
        raise ValueError(
            f"gradient noise acts in updates, so phases must include 'train', got "
            f"{list(spec.phases)}"
        )
    if spec.resample not in (None, "update"):
        raise ValueError(
            f"gradient noise is drawn fresh for every update: resample must be null or "
            f"'update', got {show(spec.resample)}"
        )
    if spec.adaptive is not None:
        raise ValueError("adaptive must be null for gradient noise")
    if spec.kind == "salt_pepper" and spec.param_dict.get("values") is None:
        raise ValueError(
            "salt_pepper gradient noise needs values: [low, high] (gradients are unbounded)"
        )
    return spec


def _unit_std(spec: NoiseSpec) -> float | None:
    """Standard deviation of the kind's unit noise (``None`` for mask kinds and random walks)."""
    if spec.info.scale_is_probability:
        return None
    std = stationary_std(spec.kind, spec.param_dict)
    return std if math.isfinite(std) else None


class _OptimizerNoise:
    """The noise of one optimizer: its parameters, generator, update count and hooks."""

    def __init__(
        self,
        owner: GradientNoiseCallback,
        name: str,
        optimizer: torch.optim.Optimizer,
        params: Sequence[torch.nn.Parameter],
        generator: torch.Generator,
    ):
        first = params[0]
        for param in params:
            if param.device != first.device or param.dtype != first.dtype:
                raise ValueError(
                    f"gradient noise needs the parameters of {name} on one device with one "
                    f"dtype, got {first.device}/{first.dtype} and {param.device}/{param.dtype}"
                )
        spec = owner.spec
        self.spec = spec
        self.owner = owner
        self.name = name
        self.optimizer = optimizer
        self.params = list(params)
        self.numels = [param.numel() for param in self.params]
        self.generator = generator
        self.total = sum(self.numels)
        self.dtype = first.dtype
        clip = (float(spec.clip[0]), float(spec.clip[1])) if isinstance(spec.clip, tuple) else None
        self.combiner = Combiner(spec, clip=clip)
        # Built at the first draw: the generator's state stays the one seeded until noise
        # is needed. Unit draws: the scale goes in with the combination (one fused pass),
        # drawn into one flat buffer whose per-parameter views are made once.
        self.stream: NoiseStream | None = None
        self.buffer = torch.empty(self.total, device=first.device, dtype=first.dtype)
        self.buffer_views = self._views(self.buffer)
        self.handles: list[Any] = []
        self.pending: tuple[list[torch.Tensor], Any] | None = None

    # -- count -------------------------------------------------------------------
    @property
    def updates(self) -> int:
        """Steps this optimizer has taken with the noise hooked in (saved with its state)."""
        return int(self.optimizer.param_groups[0].get(UPDATE_COUNT_KEY, 0))

    def _advance(self) -> None:
        self.optimizer.param_groups[0][UPDATE_COUNT_KEY] = self.updates + 1

    # -- drawing -----------------------------------------------------------------
    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [
            chunk.view(param.shape)
            for chunk, param in zip(flat.split(self.numels), self.params, strict=True)
        ]

    def draw(self) -> tuple[list[torch.Tensor], Any]:
        """Noise for the next update, per parameter, and the factor the combination applies.

        Unit draws and their scale for white noise, scaled draws and ``None`` for
        ``ou``/``colored``, uniform draws and the probability for the mask kinds
        (see :meth:`rlnoise.core.stream.NoiseStream.draw`).
        """
        if self.stream is None:
            self.stream = NoiseStream(
                self.spec, (self.total,), self.generator, dtype=self.dtype, block_size=1,
                unit_draws=True,
            )  # fmt: skip
        self.stream.set_step(self.owner.schedule_step(self))
        noise, factor = self.stream.draw(out=self.buffer)
        return (self.buffer_views if noise is self.buffer else self._views(noise)), factor

    # -- hooks -------------------------------------------------------------------
    def _noise_before_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        noise, factor = self.draw()
        self._advance()
        pairs = [
            (param.grad, view)
            for param, view in zip(self.params, noise, strict=True)
            if param.grad is not None
        ]
        if pairs:
            grads, views = zip(*pairs, strict=True)
            self.combiner.inplace(grads, views, factor)

    def _end_update(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.pending = None
        self._advance()

    def _param_hook(self, index: int) -> Callable[[torch.Tensor], None]:
        def add_noise(param: torch.Tensor) -> None:
            if param.grad is None:
                return
            if self.pending is None:  # first parameter of this update: one draw for all
                self.pending = self.draw()
            noise, factor = self.pending
            self.combiner.inplace([param.grad], [noise[index]], factor)

        return add_noise

    def attach(self, position: str) -> None:
        self.pending = None
        if position == "after_clip":
            self.handles.append(self.optimizer.register_step_pre_hook(self._noise_before_step))
            return
        self.handles.append(self.optimizer.register_step_pre_hook(self._end_update))
        for index, param in enumerate(self.params):
            self.handles.append(param.register_post_accumulate_grad_hook(self._param_hook(index)))

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.pending = None


class GradientNoiseCallback(BaseCallback):
    """Add noise to the gradients of every optimizer of an SB3 algorithm during ``learn()``.

    By default, Neelakantan et al. (2015): Gaussian noise with variance
    ``eta / (1 + t)^gamma``, ``gamma = 0.55``, ``t`` counted in gradient
    updates. Any stateless or stateful kind, mode, schedule and ``clip`` of a
    :class:`~rlnoise.NoiseSpec` works too; ``where`` globs select parameters by
    name (``"actor.*"``, ``"critic.qf0.*"``, ``"log_ent_coef"``).

    The callback is a :class:`~rlnoise.core.clock.NoiseSource`: it reports its
    scale through :meth:`noise_scales` and follows an outside clock given to
    :meth:`set_noise_step` for the rest of the ``learn()`` call. It logs
    ``noise/grad_scale``, ``noise/grad_std`` (continuous kinds) and
    ``noise/grad_updates`` at each rollout end.

    Args:
        spec: The noise (spec, dict or compact string); ``None`` for
            Neelakantan's annealed Gaussian with ``eta`` and ``gamma``.
        eta: Variance at ``t = 0`` of the default spec (paper: 0.01, 0.3, 1.0).
        gamma: Decay exponent of the default spec.
        position: ``"after_clip"`` (default) or ``"before_clip"``; see the module notes.
        seed: Seed of the noise generators (one ``torch.Generator`` per optimizer,
            on its parameters' device); ``None`` derives it from the model's seed,
            or takes OS entropy if the model has none.
        verbose: SB3 verbosity.

    Raises:
        ValueError: A spec that makes no sense for gradients (per-dimension scale,
            ``relative_to``, ``clip="space"``, phases without ``train``, ...),
            ``eta``/``gamma`` given with a spec, an unknown ``position``; at the
            start of ``learn()``, a model with no optimizer or a ``where`` pattern
            that matches no parameter.
    """

    def __init__(
        self,
        spec: NoiseSpecLike | None = None,
        *,
        eta: float | None = None,
        gamma: float | None = None,
        position: str = "after_clip",
        seed: int | None = None,
        verbose: int = 0,
    ):
        super().__init__(verbose)
        if spec is None:
            spec = gradient_noise_spec(
                0.01 if eta is None else eta, 0.55 if gamma is None else gamma
            )
        elif eta is not None or gamma is not None:
            raise ValueError(
                "eta and gamma configure the default annealed spec; with an explicit spec put "
                "them in its schedule ({'type': 'annealed', 'eta': ..., 'gamma': ...})"
            )
        self.spec = _check_gradient_spec(as_noise_spec(spec))
        self.position = check_choice("position", position, POSITIONS)
        self.seed = None if seed is None else check_int("seed", seed)
        self._unit_std = _unit_std(self.spec)
        self._injectors: dict[str, _OptimizerNoise] = {}
        self._active: list[_OptimizerNoise] = []
        self._attached_model: Any = None
        self._clock_step: int | None = None

    # -- NoiseSource -----------------------------------------------------------------
    def set_noise_step(self, step: int) -> None:
        """Read the schedule at ``step`` (an outside clock) until this ``learn()`` ends."""
        self._clock_step = int(step)

    def noise_scales(self) -> dict[str, float]:
        """Scale (and std, for continuous kinds) the next update's noise is drawn with."""
        t = self._clock_step if self._clock_step is not None else self.n_updates
        scale = float(self.spec.scale) * self.spec.schedule(t)  # type: ignore[arg-type]
        scales = {"grad_scale": scale}
        if self._unit_std is not None:
            scales["grad_std"] = scale * self._unit_std
        return scales

    @property
    def n_updates(self) -> int:
        """Noisy updates so far: the most of any hooked optimizer."""
        injectors = self._active or list(self._injectors.values())
        return max((injector.updates for injector in injectors), default=0)

    @property
    def optimizer_names(self) -> list[str]:
        """Names of the optimizers currently hooked (``["policy.optimizer"]`` for PPO)."""
        return [injector.name for injector in self._active]

    def generator(self, optimizer_name: str) -> torch.Generator:
        """The noise generator of one optimizer (e.g. to replay its draws in a test)."""
        if optimizer_name not in self._injectors:
            raise ValueError(
                f"optimizer_name must be one of {sorted(self._injectors)}, got "
                f"{show(optimizer_name)}"
            )
        return self._injectors[optimizer_name].generator

    def schedule_step(self, injector: _OptimizerNoise) -> int:
        """The step the schedule of ``injector``'s next draw reads."""
        return self._clock_step if self._clock_step is not None else injector.updates

    # -- SB3 events --------------------------------------------------------------------
    def _on_training_start(self) -> None:
        self.remove_hooks()  # a learn() that raised never reached _on_training_end
        self._clock_step = None  # a shared clock, if any, sets it again from now on
        for name, optimizer, params in self._select():
            injector = self._injector(name, optimizer, params)
            owner = _HOOK_OWNERS.get(optimizer)
            if owner is not None and owner is not self:
                warnings.warn(
                    f"{name} still carried the hooks of another GradientNoiseCallback (a learn() "
                    "that did not finish?); they are replaced, not doubled",
                    RuntimeWarning,
                    stacklevel=2,
                )
                owner.remove_hooks()
            injector.attach(self.position)
            _HOOK_OWNERS[optimizer] = self
            self._active.append(injector)
        self._attached_model = self.model
        register_training_source(self.model, self)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        for key, value in self.noise_scales().items():
            self.logger.record(f"noise/{key}", value)
        self.logger.record("noise/grad_updates", self.n_updates)

    def _on_training_end(self) -> None:
        self.remove_hooks()
        self._clock_step = None

    # -- set-up -----------------------------------------------------------------------
    def _select(self) -> list[tuple[str, torch.optim.Optimizer, list[torch.nn.Parameter]]]:
        """The parameters to noise, per optimizer, after the spec's ``where`` globs."""
        optimizers = find_optimizers(self.model)
        names = parameter_names(self.model)
        patterns = self.spec.where
        used = dict.fromkeys(patterns, False)
        seen: set[int] = set()
        all_names: list[str] = []
        plan = []
        for opt_name, optimizer in optimizers:
            chosen = []
            group_params = [p for group in optimizer.param_groups for p in group["params"]]
            for index, param in enumerate(group_params):
                name = names.get(id(param), f"{opt_name}[{index}]")
                all_names.append(name)
                if id(param) in seen or not param.requires_grad:
                    continue
                hits = [pattern for pattern in patterns if fnmatch.fnmatchcase(name, pattern)]
                if patterns and not hits:
                    continue
                for pattern in hits:
                    used[pattern] = True
                seen.add(id(param))
                chosen.append(param)
            if chosen:
                plan.append((opt_name, optimizer, chosen))
        for pattern, hit in used.items():
            if not hit:
                raise ValueError(
                    f"where pattern {pattern!r} matches no parameter of "
                    f"{[name for name, _ in optimizers]}; the parameters are {all_names}"
                )
        if not plan:
            raise ValueError(
                f"the optimizers {[name for name, _ in optimizers]} hold no trainable parameter"
            )
        return plan

    def _injector(
        self, name: str, optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter]
    ) -> _OptimizerNoise:
        """The injector of ``name``, kept across learn() calls on the same optimizer."""
        injector = self._injectors.get(name)
        if (
            injector is not None
            and injector.optimizer is optimizer
            and [id(p) for p in injector.params] == [id(p) for p in params]
        ):
            return injector  # same generator and process state: the stream continues
        base = self.seed if self.seed is not None else getattr(self.model, "seed", None)
        start = int(optimizer.param_groups[0].get(UPDATE_COUNT_KEY, 0))
        # A model loaded at update n draws a new stream, not a replay of updates 0, 1, ...
        seed = None if base is None else derive_seed(base, "gradient-noise", name, start)
        generator = make_torch_generator(seed, params[0].device)
        injector = _OptimizerNoise(self, name, optimizer, params, generator)
        self._injectors[name] = injector
        return injector

    def remove_hooks(self) -> None:
        """Take this callback's hooks off every optimizer (idempotent)."""
        for injector in self._active:
            injector.detach()
            if _HOOK_OWNERS.get(injector.optimizer) is self:
                del _HOOK_OWNERS[injector.optimizer]
        self._active = []
        if self._attached_model is not None:
            unregister_training_source(self._attached_model, self)
            self._attached_model = None

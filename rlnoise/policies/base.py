"""What every noisy SB3 policy shares: options, assembly, phases, algorithm binding, logging.

A noisy policy is an SB3 policy plus a :class:`~rlnoise.nn.NoiseControl` and
the injectors its options ask for:

- ``weight_noise`` — :class:`~rlnoise.nn.WeightNoise` on chosen parameters;
- ``activation_noise`` — :class:`~rlnoise.nn.ActivationNoise` on hidden activations;
- ``noisy_net`` — linear layers swapped for :class:`~rlnoise.nn.NoisyLinear`;
- ``param_noise`` — :class:`~rlnoise.nn.ParameterNoise` on the acting actor;
- ``layer_norm`` — ``LayerNorm`` in the hidden layers: ``True`` in every MLP,
  ``"actor"`` in the acting network only (the default with ``param_noise``).

The networks are built by SB3 first; the mixin then inserts layer norms and
noisy layers (keeping SB3's initialisation as the means), rebuilds the
optimizers over the new parameters (with the user's optimizer options), and
hooks the injectors in.

Phases. SB3 calls ``set_training_mode(True)`` only inside ``train()`` and
``False`` both for rollouts and ``predict``. The policy therefore tracks the
phase itself: ``train`` in training mode; ``rollout`` while acting for the
algorithm's own rollout collection (PPO/A2C: ``forward`` and
``predict_values`` outside training; DQN/SAC/TD3: ``predict`` called by the
algorithm on its current observation ``_last_obs``); ``eval`` for every other
``predict``/``_predict``, and after any ``set_training_mode(False)`` that is not
part of an acting call (so an evaluator that puts the policy in eval mode and
calls its networks directly sees ``eval``). ``policy.noise_phase`` tells the
phase; pin one with :func:`rlnoise.nn.noise_phase`, or switch everything off
with :func:`rlnoise.nn.noise_disabled`.

Algorithm binding. A policy built inside an algorithm (``PPO(...)``,
``DQN.load(...)``) finds that algorithm once, at construction, and keeps a
weak reference: for episode boundaries, the step clock (``num_timesteps``),
SB3's logger (``noise/*`` keys, recorded each time ``train()`` starts) and,
for DQN, the exploration schedule. A policy built elsewhere works without
it; :meth:`NoisyPolicyMixin.attach` binds one by hand.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.torch_layers import CombinedExtractor, NatureCNN
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from rlnoise.core._checks import check_int
from rlnoise.core.random import derive_seed
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike
from rlnoise.nn._random import resolve_seed
from rlnoise.nn.activation_noise import ActivationNoise, check_activation_spec
from rlnoise.nn.control import NoiseControl
from rlnoise.nn.layer_norm import insert_layer_norm
from rlnoise.nn.noisy_net import NoisyNet, NoisyNetConfig
from rlnoise.nn.param_noise import ParameterNoise, check_param_spec
from rlnoise.nn.selection import default_weights, is_activation, select_names, under
from rlnoise.nn.weight_noise import WeightNoise, check_weight_spec

__all__ = [
    "DEFAULT",
    "PARAM_NOISE_COMBINATIONS",
    "CombinedExtractorByDefault",
    "NatureCNNByDefault",
    "NoisyPolicyMixin",
    "PolicyDefault",
    "find_constructing_algorithm",
]


class PolicyDefault:
    """Marks a noise option left at the policy's default (which may depend on the others)."""

    def __repr__(self) -> str:
        return "DEFAULT"

    def __reduce__(self) -> str:
        return "DEFAULT"  # pickles as the module's singleton


DEFAULT = PolicyDefault()

PARAM_NOISE_COMBINATIONS = (
    "DQN with Discrete actions (NoisyDQNPolicy; distance: KL between softmax(Q) and "
    "softmax(Q~), target from the equivalent epsilon)",
    "SAC with Box actions (NoisySACPolicy; distance: RMS between actions)",
    "TD3 or DDPG with Box actions (NoisyTD3Policy; distance: RMS between actions)",
)


def find_constructing_algorithm(max_depth: int = 12) -> BaseAlgorithm | None:
    """The SB3 algorithm whose method is building the caller, if any (looked up once)."""
    frame = sys._getframe(2)
    try:
        for _ in range(max_depth):
            if frame is None:
                return None
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, BaseAlgorithm):
                return candidate
            frame = frame.f_back  # type: ignore[assignment]
        return None
    finally:
        del frame


def _check_algorithm(policy_class: type, algorithm: BaseAlgorithm) -> None:
    """Raise ``ValueError`` if ``algorithm`` cannot use ``policy_class`` (DQN with a PPO policy).

    An algorithm accepts the policies derived from those in its ``policy_aliases``.
    """
    accepted = tuple(
        c for c in getattr(algorithm, "policy_aliases", {}).values() if isinstance(c, type)
    )
    if not accepted or issubclass(policy_class, accepted):
        return
    from rlnoise import policies  # the concrete noisy policies import this module

    noisy = [
        name
        for name in ("NoisyActorCriticPolicy", "NoisyDQNPolicy", "NoisySACPolicy", "NoisyTD3Policy")
        if issubclass(getattr(policies, name), accepted)
    ]
    hint = f"; use {' or '.join(noisy)}" if noisy else "; rlnoise has no noisy policy for it"
    algo = type(algorithm).__name__
    roots = {
        c.__name__ for c in accepted if not any(c is not d and issubclass(c, d) for d in accepted)
    }
    raise ValueError(
        f"policy {policy_class.__name__} does not work with {algo}, which needs a subclass of "
        f"{sorted(roots)}{hint}"
    )


def _maybe(value: NoiseSpecLike | None, check: Callable[[Any, str], NoiseSpec], field: str) -> Any:
    if value is None or value is False:
        return None
    return check(value, field)


class _AlgorithmRef:
    """Weak reference to the algorithm a policy serves, safe to copy and pickle.

    A deep copy of the algorithm gives its policy copy a reference to the
    algorithm copy (a policy copied alone keeps the original's); a pickled
    policy comes back unbound (:meth:`NoisyPolicyMixin.attach` binds it again).
    """

    __slots__ = ("_ref",)

    def __init__(self, algorithm: BaseAlgorithm | None) -> None:
        self._ref = None if algorithm is None else weakref.ref(algorithm)

    def __call__(self) -> BaseAlgorithm | None:
        return None if self._ref is None else self._ref()

    def __deepcopy__(self, memo: dict[int, Any]) -> _AlgorithmRef:
        algorithm = self()
        return _AlgorithmRef(memo.get(id(algorithm), algorithm))

    def __reduce__(self) -> tuple[type, tuple[None]]:
        return (_AlgorithmRef, (None,))


class _UpdateEvent:
    """Optimizer step post-hook: tells the noise control that an update happened."""

    __slots__ = ("control",)

    def __init__(self, control: NoiseControl) -> None:
        self.control = control

    def __call__(self, *_: Any) -> None:
        self.control.emit("update")


class _Runtime:
    """Per-call flags kept off nn.Module attributes (whose __setattr__ is slow)."""

    __slots__ = ("acting_call", "seen_episodes")

    def __init__(self) -> None:
        self.acting_call = False
        self.seen_episodes: int | None = None


class NoisyPolicyMixin:
    """Noise options and machinery shared by the noisy SB3 policies (put first in the bases)."""

    # Per-policy layout, set by each concrete policy class.
    _on_policy: ClassVar[bool] = False
    _target_prefixes: ClassVar[tuple[str, ...]] = ()
    _target_pairs: ClassVar[tuple[tuple[str, str], ...]] = ()
    _noisy_net_prefixes: ClassVar[tuple[str, ...]] = ("",)
    _param_noise_prefixes: ClassVar[tuple[str, ...]] = ()
    _param_noise_exclude: ClassVar[tuple[str, ...]] = ()
    _output_modules: ClassVar[tuple[str, ...]] = ()

    noise_control: NoiseControl
    noise_injectors: dict[str, Any]

    # -- options -----------------------------------------------------------------
    def _init_noise_options(
        self,
        *,
        weight_noise: NoiseSpecLike | None,
        activation_noise: NoiseSpecLike | None,
        noisy_net: Any,
        param_noise: NoiseSpecLike | None,
        layer_norm: bool | str | None,
        noise_seed: int | None,
        algorithm: BaseAlgorithm | None,
    ) -> None:
        """Validate the options (before SB3 builds anything)."""
        if algorithm is not None:
            _check_algorithm(type(self), algorithm)
        if noise_seed is not None:
            noise_seed = check_int("noise_seed", noise_seed)
        self._weight_noise_spec = _maybe(weight_noise, check_weight_spec, "weight_noise")
        self._activation_noise_spec = _maybe(
            activation_noise, check_activation_spec, "activation_noise"
        )
        self._noisy_net_config = NoisyNetConfig.from_value(noisy_net)
        self._param_noise_spec = _maybe(param_noise, check_param_spec, "param_noise")
        if layer_norm not in (None, True, False, "actor"):
            raise ValueError(f"layer_norm must be true, false, 'actor' or null, got {layer_norm!r}")
        if layer_norm is None:  # the paper's need: the network parameter noise perturbs
            layer_norm = "actor" if self._param_noise_spec is not None else False
        self._layer_norm: bool | str = layer_norm
        self._algorithm_ref = _AlgorithmRef(algorithm)
        if noise_seed is None and algorithm is not None and algorithm.seed is not None:
            noise_seed = derive_seed(algorithm.seed, "rlnoise.policy")
        self._noise_seed = resolve_seed(noise_seed)
        self._runtime = _Runtime()

    def _get_constructor_parameters(self) -> dict[str, Any]:
        """SB3's constructor keywords plus the noise options (what ``load`` rebuilds from)."""
        data: dict[str, Any] = super()._get_constructor_parameters()  # type: ignore[misc]
        data.update(
            weight_noise=self._weight_noise_spec,
            activation_noise=self._activation_noise_spec,
            noisy_net=self._noisy_net_config or False,
            param_noise=self._param_noise_spec,
            layer_norm=self._layer_norm,
            noise_seed=self._noise_seed,
        )
        return data

    # -- algorithm ---------------------------------------------------------------
    def attach(self, algorithm: BaseAlgorithm) -> None:
        """Bind the algorithm this policy serves (done automatically inside SB3)."""
        if not isinstance(algorithm, BaseAlgorithm):
            raise ValueError(f"attach needs an SB3 algorithm, got {type(algorithm).__name__}")
        self._algorithm_ref = _AlgorithmRef(algorithm)

    def _algorithm(self) -> BaseAlgorithm | None:
        return self._algorithm_ref()

    def _algorithm_steps(self) -> int | None:
        algorithm = self._algorithm()
        return None if algorithm is None else int(algorithm.num_timesteps)

    # -- assembly ----------------------------------------------------------------
    def _build(self, lr_schedule: Schedule) -> None:
        """SB3 builds the networks and optimizers; then the noise goes in."""
        super()._build(lr_schedule)  # type: ignore[misc]
        self._install_noise(lr_schedule)

    def _mlp_networks(self) -> list[tuple[str, bool, bool]]:
        """(name, last linear is an output layer, part of the actor) of each MLP.

        "Actor" means the network that acts: the one parameter noise perturbs
        (DQN: the Q-network), with its target twin.
        """
        return []

    def _rebuild_optimizers(self, lr_schedule: Callable[[float], float]) -> None:
        raise NotImplementedError

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        raise NotImplementedError

    def _param_noise_parts(self) -> dict[str, Any]:
        """output_fn, distance, recorder, default_target, default_resample for ParameterNoise."""
        raise NotImplementedError

    def _check_param_noise(self) -> None:
        """Raise ``ValueError`` if this policy/space cannot serve parameter noise."""

    def _install_noise(self, lr_schedule: Callable[[float], float]) -> None:
        """Insert norms and noisy layers, rebuild optimizers, hook the injectors in."""
        module: nn.Module = self  # type: ignore[assignment]
        self.noise_control = NoiseControl(clock=self._algorithm_steps)
        self.noise_injectors = {}
        changed = False
        if self._layer_norm:
            for name, output_layer, actor in self._mlp_networks():
                if self._layer_norm == "actor" and not actor:
                    continue
                mlp = module.get_submodule(name)
                changed |= insert_layer_norm(mlp, output_layer=output_layer) > 0  # type: ignore[arg-type]
        if self._noisy_net_config is not None:
            self.noise_injectors["noisy_net"] = self._make_noisy_net(self._noisy_net_config)
            changed = True
        if changed:
            for online, target in self._target_pairs:
                module.get_submodule(target).load_state_dict(
                    module.get_submodule(online).state_dict()
                )
            self._rebuild_optimizers(lr_schedule)
        seed = self._noise_seed
        if self._weight_noise_spec is not None:
            spec = self._weight_noise_spec
            self.noise_injectors["weight_noise"] = WeightNoise(
                module,
                spec,
                control=self.noise_control,
                names=self._select_weights(spec),
                seed=derive_seed(seed, "weight_noise"),
                default_phases=self._default_weight_phases(spec),
            )
        if self._activation_noise_spec is not None:
            spec = self._activation_noise_spec
            self.noise_injectors["activation_noise"] = ActivationNoise(
                module,
                spec,
                control=self.noise_control,
                names=self._select_activations(spec),
                seed=derive_seed(seed, "activation_noise"),
            )
        if self._param_noise_spec is not None:
            self._check_param_noise()
            spec = self._param_noise_spec
            self.noise_injectors["param_noise"] = ParameterNoise(
                module,
                spec,
                control=self.noise_control,
                names=self._select_param_noise(spec),
                seed=derive_seed(seed, "param_noise"),
                **self._param_noise_parts(),
            )
        self._hook_optimizers()
        self.noise_control.set_training(module.training)

    def _hook_optimizers(self) -> None:
        """Every optimizer step is an ``update`` event for the noise."""
        for optimizer in self._optimizers():
            optimizer.register_step_post_hook(_UpdateEvent(self.noise_control))

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Copies (deepcopy, pickle) of optimizers drop their hooks: put ours back.
        super().__setstate__(state)  # type: ignore[misc]
        if "noise_control" in state:
            self._hook_optimizers()

    # -- selections --------------------------------------------------------------
    def _parameter_names(self) -> list[str]:
        return [name for name, _ in self.named_parameters()]  # type: ignore[attr-defined]

    def _select_weights(self, spec: NoiseSpec) -> list[str]:
        candidates = default_weights(self, exclude=self._target_prefixes)  # type: ignore[arg-type]
        chosen = select_names(
            spec.where,
            candidates,
            self._parameter_names(),
            field="weight_noise.where",
            what="parameter",
        )
        if not chosen:
            raise ValueError(
                "weight_noise: no plain linear/conv weights to perturb (noisy_net made them "
                "NoisyLinear layers); name their means with where=['*.mu'] or pass "
                "weight_noise=None"
            )
        return chosen

    def _select_param_noise(self, spec: NoiseSpec) -> list[str]:
        candidates = default_weights(
            self,  # type: ignore[arg-type]
            include=self._param_noise_prefixes,
            exclude=self._param_noise_exclude + self._target_prefixes,
            biases=True,
        )
        chosen = select_names(
            spec.where,
            candidates,
            self._parameter_names(),
            field="param_noise.where",
            what="parameter",
        )
        if not chosen:
            raise ValueError(
                "param_noise: no plain linear/conv layers of the actor to perturb (noisy_net "
                "made them NoisyLinear layers); use one of noisy_net and param_noise"
            )
        return chosen

    def _select_activations(self, spec: NoiseSpec) -> list[str]:
        module: nn.Module = self  # type: ignore[assignment]
        extra = tuple(c for c in (getattr(self, "activation_fn", None),) if isinstance(c, type))
        outputs = set()
        for name in self._output_modules:
            head = module.get_submodule(name)
            if isinstance(head, nn.Sequential) and len(head) and is_activation(head[-1], extra):
                outputs.add(f"{name}.{len(head) - 1}")
        universe = [name for name, _ in module.named_modules() if name]
        candidates = [
            name
            for name, sub in module.named_modules()
            if name
            and is_activation(sub, extra)
            and not under(name, self._target_prefixes)
            and name not in outputs
        ]
        chosen = select_names(
            spec.where, candidates, universe, field="activation_noise.where", what="module"
        )
        if not chosen:
            raise ValueError(
                "activation_noise: this policy has no hidden activation layers to noise "
                "(empty net_arch?); pass activation_noise=None or name modules with 'where'"
            )
        return chosen

    def _make_noisy_net(self, config: NoisyNetConfig) -> NoisyNet:
        module: nn.Module = self  # type: ignore[assignment]
        linears = [name for name, sub in module.named_modules() if isinstance(sub, nn.Linear)]
        candidates = [
            name
            for name in linears
            if under(name, self._noisy_net_prefixes) and not under(name, self._target_prefixes)
        ]
        chosen = select_names(
            config.where, candidates, linears, field="noisy_net.where", what="linear layer"
        )
        # Online layers made noisy take their target-network twins along (same structure,
        # so that polyak updates and load_state_dict keep matching).
        for online, target in self._target_pairs:
            for name in list(chosen):
                if under(name, (online,)):
                    twin = target + name[len(online) :]
                    if twin in linears and twin not in chosen:
                        chosen.append(twin)
        online_names = [n for n in chosen if not under(n, self._target_prefixes)]
        target_names = [n for n in chosen if under(n, self._target_prefixes)]
        phases = config.phases if config.phases is not None else ("rollout", "train")
        if self._on_policy:
            resample = config.resample if config.resample is not None else "rollout"
            self._check_on_policy_hold("noisy_net", phases, resample)
            rules: dict[str, list[str | int]] = {"online": [resample], "target": []}
        else:
            if config.resample not in (None, "step"):
                raise ValueError(
                    "noisy_net.resample: off-policy NoisyNet resamples the online network at "
                    "every acting step and every gradient update, the target network at every "
                    f"update (Fortunato et al.); resample must be unset or 'step', got "
                    f"{config.resample!r}"
                )
            rules = {"online": ["step", "update", "train"], "target": ["update", "train"]}
        net = NoisyNet(
            module,
            config,
            control=self.noise_control,
            seed=derive_seed(self._noise_seed, "noisy_net"),
            groups={"online": online_names, "target": target_names},
            rules=rules,
            default_phases=phases,
        )
        for layer in net.layers["online"]:
            # Cached effective weights pay off when a sample serves many forwards (a
            # rollout); off-policy acting draws a new one every step.
            layer.cache_effective_weights = self._on_policy
        for layer in net.layers["target"]:
            # Target networks are polyak-updated through .data, which version counters miss.
            layer.cache_effective_weights = False
        return net

    def extra_repr(self) -> str:
        """One line per noise source, above the network in ``repr(policy)``."""
        lines = [super().extra_repr()]  # type: ignore[misc]
        injectors = self.__dict__.get("noise_injectors", {})
        lines += [f"(noise) {injector!r}" for injector in injectors.values()]
        return "\n".join(line for line in lines if line)

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        # .to()/.cuda()/.double(): noise drawn from now on must follow the parameters.
        out = super()._apply(fn, recurse)  # type: ignore[misc]
        for injector in self.__dict__.get("noise_injectors", {}).values():
            retarget = getattr(injector, "retarget", None)
            if retarget is not None:
                retarget()
        return out

    # -- phases ------------------------------------------------------------------
    def _default_weight_phases(self, spec: NoiseSpec) -> tuple[str, ...]:
        resample = spec.resample
        if resample in (None, "call", "update"):
            phases: tuple[str, ...] = ("train",)
        elif resample == "rollout" and self._on_policy:
            phases = ("rollout", "train")
        else:
            phases = ("rollout",)
        if spec.phases is not None:
            phases = spec.phases
        if resample not in (None, "call"):
            self._check_on_policy_hold("weight_noise", phases, resample)
        return phases

    def _check_on_policy_hold(self, field: str, phases: Sequence[str], resample: Any) -> None:
        if self._on_policy and "rollout" in phases and "train" in phases and resample != "rollout":
            raise ValueError(
                f"{field}: on PPO/A2C a sample held in both the rollout and train phases must "
                f"be resampled per 'rollout', so that the loss sees the sample that acted (the "
                f"stored log-probabilities come from it); got resample={resample!r}. Use "
                "resample='rollout', or drop 'train' from phases (the loss then sees the "
                "clean network and PPO's ratio corrects for the noisy behaviour policy)"
            )

    def _begin_acting(self, algorithm: BaseAlgorithm | None, rows: int) -> None:
        episode = False
        if algorithm is not None:
            if self._on_policy:
                starts = getattr(algorithm, "_last_episode_starts", None)
                episode = starts is not None and bool(starts.any())
            else:
                count = algorithm._episode_num
                runtime = self._runtime
                episode = count != runtime.seen_episodes
                runtime.seen_episodes = count
        self.noise_control.begin_acting(rows, episode)

    def set_training_mode(self, mode: bool) -> None:
        super().set_training_mode(mode)  # type: ignore[misc]
        control = self.__dict__.get("noise_control")
        if control is None:  # still being built
            return
        if not mode and control.acting and not self._runtime.acting_call:
            # Eval mode outside an acting call (a rollout starting, an evaluator taking
            # over): acting ends here, so direct calls of the networks see "eval".
            control.acting = False
        elif control.training is bool(mode):
            return
        control.set_training(mode)
        if mode:
            self._log_noise()

    def predict(self, observation: Any, *args: Any, **kwargs: Any) -> Any:
        # Off-policy algorithms act through predict() on their own current observation.
        algorithm = None if self._on_policy else self._algorithm()
        acting = algorithm is not None and observation is algorithm.__dict__.get("_last_obs")
        if acting:
            assert algorithm is not None
            self._begin_acting(algorithm, algorithm.n_envs)
        runtime = self._runtime
        runtime.acting_call = acting
        try:
            return super().predict(observation, *args, **kwargs)  # type: ignore[misc]
        finally:
            runtime.acting_call = False

    def _predict(self, observation: Any, deterministic: bool = False) -> torch.Tensor:
        control = self.noise_control
        if control.acting and not self._runtime.acting_call:
            control.set_acting(False)
        return super()._predict(observation, deterministic)  # type: ignore[misc]

    @property
    def noise_phase(self) -> str:
        """The phase the policy's noise follows now: ``rollout``, ``train`` or ``eval``."""
        return self.noise_control.phase

    # -- NoiseSource and logging -------------------------------------------------
    def set_noise_step(self, step: int) -> None:
        """Set the step count the noise schedules read (stops following ``num_timesteps``)."""
        self.noise_control.set_step(step)

    def noise_scales(self) -> dict[str, float]:
        """Current scale of each noise: weight/activation scales, param sigma, NoisyNet sigma."""
        return self.noise_control.scales()

    def noise_logs(self) -> dict[str, float]:
        """:meth:`noise_scales` plus parameter noise's measured distance and target."""
        out = self.noise_scales()
        param_noise = self.noise_injectors.get("param_noise")
        if param_noise is not None:
            out.update(param_noise.diagnostics())
        return out

    def _log_noise(self) -> None:
        """Record ``noise/*`` in SB3's logger (each time ``train()`` starts)."""
        algorithm = self._algorithm()
        logger = None if algorithm is None else getattr(algorithm, "_logger", None)
        if logger is None:
            return
        for key, value in self.noise_logs().items():
            logger.record(f"noise/{key}", value)


class NatureCNNByDefault:
    """Makes SB3's ``NatureCNN`` the default features extractor (image observations).

    Put it before a noisy policy in the bases: ``class Cnn(NatureCNNByDefault, NoisyDQNPolicy)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("features_extractor_class", NatureCNN)
        super().__init__(*args, **kwargs)


class CombinedExtractorByDefault:
    """Makes SB3's ``CombinedExtractor`` the default features extractor (Dict observations).

    Put it before a noisy policy in the bases, as :class:`NatureCNNByDefault`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("features_extractor_class", CombinedExtractor)
        super().__init__(*args, **kwargs)

"""Building a noisy policy's networks from its options.

SB3 builds the networks and optimizers first (``_build``); then
:class:`NoiseAssemblyMixin` puts the noise in:

- ``layer_norm`` — ``LayerNorm`` in the hidden layers: ``True`` in every MLP,
  ``"actor"`` in the acting network only (the default with ``param_noise``);
- ``noisy_net`` — linear layers swapped for :class:`~rlnoise.nn.NoisyLinear`
  (SB3's initialisation kept as the means), target-network twins along;
- the optimizers rebuilt over the new parameters (with the user's optimizer
  options) when the networks changed;
- ``weight_noise`` — :class:`~rlnoise.nn.WeightNoise` on chosen parameters;
- ``activation_noise`` — :class:`~rlnoise.nn.ActivationNoise` on hidden activations;
- ``param_noise`` — :class:`~rlnoise.nn.ParameterNoise` on the acting actor;
- every optimizer step reported to the noise control as an ``update`` event.

Each concrete policy describes its layout in class attributes (target
networks, where NoisyNet and parameter noise go) and a few methods (its MLPs,
its optimizers); everything else is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from rlnoise.core.random import derive_seed
from rlnoise.core.spec import NoiseSpec
from rlnoise.nn.activation_noise import ActivationNoise
from rlnoise.nn.control import NoiseControl
from rlnoise.nn.layer_norm import insert_layer_norm
from rlnoise.nn.noisy_net import NoisyNet, NoisyNetConfig
from rlnoise.nn.param_noise import ParameterNoise
from rlnoise.nn.selection import default_weights, is_activation, select_names, under
from rlnoise.nn.weight_noise import WeightNoise
from rlnoise.policies.binder import AlgorithmBinding
from rlnoise.policies.options import NoiseOptions, check_on_policy_hold, default_weight_phases

__all__ = ["NoiseAssemblyMixin"]


class _UpdateEvent:
    """Optimizer step post-hook: tells the noise control that an update happened."""

    __slots__ = ("control",)

    def __init__(self, control: NoiseControl) -> None:
        self.control = control

    def __call__(self, *_: Any) -> None:
        self.control.emit("update")


class NoiseAssemblyMixin:
    """Inserts a policy's noise after SB3 has built its networks (put before SB3's policy)."""

    # Per-policy layout, set by each concrete policy class.
    _on_policy: ClassVar[bool] = False
    _target_prefixes: ClassVar[tuple[str, ...]] = ()
    _target_pairs: ClassVar[tuple[tuple[str, str], ...]] = ()
    _noisy_net_prefixes: ClassVar[tuple[str, ...]] = ("",)
    _param_noise_prefixes: ClassVar[tuple[str, ...]] = ()
    _param_noise_exclude: ClassVar[tuple[str, ...]] = ()
    _output_modules: ClassVar[tuple[str, ...]] = ()

    noise_options: NoiseOptions
    noise_control: NoiseControl
    noise_injectors: dict[str, Any]
    _binding: AlgorithmBinding

    def _build(self, lr_schedule: Schedule) -> None:
        """SB3 builds the networks and optimizers; then the noise goes in."""
        super()._build(lr_schedule)  # type: ignore[misc]
        self._install_noise(lr_schedule)

    # -- what each policy tells --------------------------------------------------
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

    # -- assembly ----------------------------------------------------------------
    def _install_noise(self, lr_schedule: Callable[[float], float]) -> None:
        """Insert norms and noisy layers, rebuild optimizers, hook the injectors in."""
        module: nn.Module = self  # type: ignore[assignment]
        options = self.noise_options
        self.noise_control = NoiseControl(clock=self._binding.steps)
        self.noise_injectors = {}
        changed = False
        if options.layer_norm:
            for name, output_layer, actor in self._mlp_networks():
                if options.layer_norm == "actor" and not actor:
                    continue
                mlp = module.get_submodule(name)
                changed |= insert_layer_norm(mlp, output_layer=output_layer) > 0  # type: ignore[arg-type]
        if options.noisy_net is not None:
            self.noise_injectors["noisy_net"] = self._make_noisy_net(options.noisy_net)
            changed = True
        if changed:
            for online, target in self._target_pairs:
                module.get_submodule(target).load_state_dict(
                    module.get_submodule(online).state_dict()
                )
            self._rebuild_optimizers(lr_schedule)
        seed = options.seed
        if options.weight_noise is not None:
            spec = options.weight_noise
            self.noise_injectors["weight_noise"] = WeightNoise(
                module,
                spec,
                control=self.noise_control,
                names=self._select_weights(spec),
                seed=derive_seed(seed, "weight_noise"),
                default_phases=default_weight_phases(spec, self._on_policy),
            )
        if options.activation_noise is not None:
            spec = options.activation_noise
            self.noise_injectors["activation_noise"] = ActivationNoise(
                module,
                spec,
                control=self.noise_control,
                names=self._select_activations(spec),
                seed=derive_seed(seed, "activation_noise"),
            )
        if options.param_noise is not None:
            self._check_param_noise()
            spec = options.param_noise
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

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        # .to()/.cuda()/.double(): noise drawn from now on must follow the parameters.
        out = super()._apply(fn, recurse)  # type: ignore[misc]
        for injector in self.__dict__.get("noise_injectors", {}).values():
            retarget = getattr(injector, "retarget", None)
            if retarget is not None:
                retarget()
        return out

    def extra_repr(self) -> str:
        """One line per noise source, above the network in ``repr(policy)``."""
        lines = [super().extra_repr()]  # type: ignore[misc]
        injectors = self.__dict__.get("noise_injectors", {})
        lines += [f"(noise) {injector!r}" for injector in injectors.values()]
        return "\n".join(line for line in lines if line)

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
            check_on_policy_hold("noisy_net", phases, resample, on_policy=True)
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
            seed=derive_seed(self.noise_options.seed, "noisy_net"),
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

"""NoisyNet for a whole network: swap linear layers for ``NoisyLinear`` and drive their noise.

:class:`NoisyNetConfig` is the ``noisy_net=`` option of the noisy policies
(``True``, or a mapping of these fields). :class:`NoisyNet` converts the
chosen ``nn.Linear`` layers in place (keeping their current weights as the
means), switches the noise on in the configured phases and resamples groups of
layers on events: for DQN the online network at every acting step and every
gradient update, the target network independently at every update; for
PPO/A2C one sample per rollout, reused by the loss (Fortunato et al., 2018).

Example:
    >>> import torch
    >>> from torch import nn
    >>> from rlnoise.nn.control import NoiseControl
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> control = NoiseControl()
    >>> noisy = NoisyNet(net, NoisyNetConfig(), control=control, seed=0,
    ...                  groups={"online": ["0", "2"]}, rules={"online": ["step"]},
    ...                  default_phases=("rollout",))
    >>> type(net[0]).__name__
    'NoisyLinear'
    >>> control.begin_acting()
    >>> net[0].noise_enabled, net[2].noise_enabled
    (True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from rlnoise.core.checks import check_float, check_keys, show
from rlnoise.core.random import derive_seed
from rlnoise.core.spec import PHASES
from rlnoise.nn.control import NoiseControl, ResampleRule
from rlnoise.nn.noisy_linear import NoisyLinear

__all__ = ["SIGMA_REFRESH_STEPS", "NoisyNet", "NoisyNetConfig", "replace_module"]

SIGMA_REFRESH_STEPS = 1000


def _strings(field: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.replace("|", "+").split("+")
    if not isinstance(value, list | tuple):
        raise ValueError(f"{field} must be a string or a list of strings, got {show(value)}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{field} entries must be non-empty strings, got {show(item)}")
    return tuple(value)


@dataclass(frozen=True)
class NoisyNetConfig:
    """Options of ``noisy_net=``.

    Args:
        factorised: Factorised (True, the paper's choice for DQN and A3C) or
            independent Gaussian noise.
        sigma0: Initial noise level (default 0.5 factorised, 0.017 independent).
        where: Globs over module names narrowing which linear layers become
            noisy (default: per policy; see the policy's docs).
        phases: Phases in which the noise is on (default: rollout and train;
            ``eval`` uses the means).
        resample: Acting-net resampling event (default: per policy — every
            acting step for off-policy algorithms, every rollout for PPO/A2C).
        keep_epsilon: DQN only: keep epsilon-greedy exploration on top of
            NoisyNet (by default the policy sets the algorithm's epsilon to 0).

    Example:
        >>> NoisyNetConfig.from_value({"factorised": False}).sigma0_value
        0.017
        >>> NoisyNetConfig.from_value(False) is None
        True
    """

    factorised: bool = True
    sigma0: float | None = None
    where: tuple[str, ...] = ()
    phases: tuple[str, ...] | None = None
    resample: str | int | None = None
    keep_epsilon: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("factorised", "keep_epsilon"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"noisy_net.{name} must be true or false, got {show(getattr(self, name))}"
                )
        if self.sigma0 is not None:
            set_(self, "sigma0", check_float("noisy_net.sigma0", self.sigma0, low=0.0))
        set_(self, "where", _strings("noisy_net.where", self.where))
        if self.phases is not None:
            phases = _strings("noisy_net.phases", self.phases)
            for phase in phases:
                if phase not in PHASES:
                    raise ValueError(
                        f"noisy_net.phases entries must be in {list(PHASES)}, got {phase!r}"
                    )
            set_(self, "phases", tuple(p for p in PHASES if p in phases))
        if self.resample is not None:
            ResampleRule(self.resample)  # validates

    @property
    def sigma0_value(self) -> float:
        """``sigma0`` with the paper's default filled in."""
        if self.sigma0 is not None:
            return self.sigma0
        return 0.5 if self.factorised else 0.017

    @classmethod
    def from_value(cls, value: Any) -> NoisyNetConfig | None:
        """Build from ``None``/``False`` (off), ``True`` (defaults), a mapping, or an instance."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value.lower() in ("factorised", "independent"):
            return cls(factorised=value.lower() == "factorised")
        if isinstance(value, Mapping):
            check_keys("noisy_net", value, [f.name for f in fields(cls)])
            return cls(**value)
        raise ValueError(
            "noisy_net must be true/false, 'factorised', 'independent' or a mapping of "
            f"{[f.name for f in fields(cls)]}, got {show(value)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """YAML/JSON-safe form."""
        return {
            "factorised": self.factorised,
            "sigma0": self.sigma0,
            "where": list(self.where),
            "phases": None if self.phases is None else list(self.phases),
            "resample": self.resample,
            "keep_epsilon": self.keep_epsilon,
        }


def replace_module(root: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` where ``root.get_submodule(name)`` is."""
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


class NoisyNet:
    """Noisy linear layers in ``root``, in groups with their own resampling events.

    Args:
        root: The network; the named ``nn.Linear`` layers are replaced in place.
        config: Options (factorised, sigma0, phases).
        control: The phase/event control.
        seed: Seed; each layer's generator is derived from it and the layer name.
        groups: Group name -> module names to make noisy (e.g. ``online``, ``target``).
        rules: Group name -> resampling events of that group.
        default_phases: Phases when ``config.phases`` is unset.
    """

    def __init__(
        self,
        root: nn.Module,
        config: NoisyNetConfig,
        *,
        control: NoiseControl,
        seed: int | None,
        groups: Mapping[str, Sequence[str]],
        rules: Mapping[str, Sequence[str | int]],
        default_phases: Sequence[str] = ("rollout", "train"),
    ) -> None:
        self.config = config
        self.control = control
        self.phases = tuple(config.phases if config.phases is not None else default_phases)
        self.layers: dict[str, list[NoisyLinear]] = {}
        self.names: dict[str, list[str]] = {}
        for group, names in groups.items():
            self.layers[group] = []
            self.names[group] = list(names)
            for name in names:
                self.layers[group].append(self._convert(root, name, seed))
        if not any(self.layers.values()):
            raise ValueError("noisy_net: no linear layers selected")
        # Plain event rules: event -> the layers it marks stale (a resample costs a flag
        # until the layer is next used); every-N rules count their steps per group.
        self._marks: dict[str, list[NoisyLinear]] = {}
        self._counters: dict[str, list[ResampleRule]] = {}
        for group in groups:
            group_rules = [ResampleRule(r) for r in rules.get(group, ())]
            for rule in group_rules:
                for event in rule.events:
                    self._marks.setdefault(event, []).extend(self.layers[group])
            self._counters[group] = [r for r in group_rules if r.every is not None]
        self._sigma: tuple[int, float] | None = None
        control.register(self)

    def _convert(self, root: nn.Module, name: str, seed: int | None) -> NoisyLinear:
        module = root.get_submodule(name)
        layer_seed = derive_seed(seed, "noisy_net", name) if seed is not None else None
        if isinstance(module, NoisyLinear):
            return module
        if not isinstance(module, nn.Linear):
            raise ValueError(
                f"noisy_net: module {name!r} is a {type(module).__name__}, not an nn.Linear"
            )
        layer = NoisyLinear.from_linear(
            module,
            factorised=self.config.factorised,
            sigma0=self.config.sigma0_value,
            seed=layer_seed,
        )
        replace_module(root, name, layer)
        return layer

    def all_layers(self) -> list[NoisyLinear]:
        """Every noisy layer, all groups."""
        return [layer for layers in self.layers.values() for layer in layers]

    def reset_noise(self, group: str | None = None, lazy: bool = False) -> None:
        """Resample one group (or all); ``lazy`` draws when each layer is next used."""
        for name, layers in self.layers.items():
            if group is None or name == group:
                for layer in layers:
                    layer.reset_noise(lazy=lazy)

    def on_phase(self, phase: str | None) -> None:
        enabled = phase is not None and phase in self.phases
        for layer in self.all_layers():
            # A plain attribute: set it in __dict__, past nn.Module's slow __setattr__.
            layer.__dict__["noise_enabled"] = enabled

    def on_event(self, event: str) -> None:
        # Lazy: events that pile up before the next forward (an update, then entering
        # train) cost one draw.
        for layer in self._marks.get(event, ()):
            layer.reset_noise(lazy=True)
        for group, counters in self._counters.items():
            if any([counter.fires(event) for counter in counters]):  # every rule counts
                for layer in self.layers[group]:
                    layer.reset_noise(lazy=True)

    def mean_sigma(self, group: str | None = None) -> float:
        """Mean |sigma| over the noisy layers' weights and biases."""
        sigmas = [
            layer.sigma.detach().flatten()
            for name, layers in self.layers.items()
            if group is None or name == group
            for layer in layers
        ]
        if not sigmas:
            return 0.0
        return float(torch.cat(sigmas).abs().mean())

    def scales(self) -> dict[str, float]:
        """Mean |sigma| of the acting (first) group, refreshed every ``SIGMA_REFRESH_STEPS``.

        Logging asks at every ``train()``, up to every few steps off-policy; the
        mean over every sigma tensor is the one costly figure, and it drifts slowly.
        """
        step = self.control.step
        if self._sigma is None or abs(step - self._sigma[0]) >= SIGMA_REFRESH_STEPS:
            self._sigma = (step, self.mean_sigma(next(iter(self.layers))))
        return {"noisy_net_sigma": self._sigma[1]}

    def __repr__(self) -> str:
        groups = {name: len(layers) for name, layers in self.layers.items()}
        return f"NoisyNet(groups={groups}, phases={'+'.join(self.phases)})"

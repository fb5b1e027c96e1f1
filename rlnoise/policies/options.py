"""The noise options of a noisy policy: validated once, saved with the model.

Every noisy policy takes the same six keywords (``weight_noise``,
``activation_noise``, ``noisy_net``, ``param_noise``, ``layer_norm``,
``noise_seed``); :class:`NoiseOptions` checks them before SB3 builds anything
and gives them back as the constructor keywords ``model.save()`` stores. The
rules that decide *when* a spec's noise is on by default, and which
combinations PPO/A2C refuse, live here too: they depend on the options and the
kind of algorithm only, not on the network.

Example:
    >>> options = NoiseOptions.validate(
    ...     weight_noise="gaussian:0.1", activation_noise=None, noisy_net=False,
    ...     param_noise=None, layer_norm=None, noise_seed=3, seed_source=None)
    >>> options.weight_noise.kind, options.layer_norm, options.seed
    ('gaussian', False, 3)
    >>> default_weight_phases(options.weight_noise, on_policy=True)
    ('train',)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stable_baselines3.common.torch_layers import CombinedExtractor, NatureCNN

from rlnoise.core.checks import check_float, check_int
from rlnoise.core.random import derive_seed, resolve_seed
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike
from rlnoise.nn.activation_noise import check_activation_spec
from rlnoise.nn.noisy_net import NoisyNetConfig
from rlnoise.nn.param_noise import check_param_spec
from rlnoise.nn.weight_noise import check_weight_spec

__all__ = [
    "DEFAULT",
    "PARAM_NOISE_COMBINATIONS",
    "CombinedExtractorByDefault",
    "NatureCNNByDefault",
    "NoiseOptions",
    "PolicyDefault",
    "check_on_policy_hold",
    "check_sni",
    "default_weight_phases",
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


def _maybe(value: NoiseSpecLike | None, check: Callable[[Any, str], NoiseSpec], field: str) -> Any:
    if value is None or value is False:
        return None
    return check(value, field)


@dataclass(frozen=True)
class NoiseOptions:
    """A policy's validated noise options.

    Attributes:
        weight_noise: Spec of the weight noise, or ``None``.
        activation_noise: Spec of the activation noise, or ``None``.
        noisy_net: NoisyNet options, or ``None`` (off).
        param_noise: Spec of the parameter-space noise, or ``None``.
        layer_norm: ``True``, ``False`` or ``"actor"`` (resolved from ``None``).
        seed: The seed every noise draw derives from (resolved: never ``None``).
        sni_lambda: Selective noise injection's weight of the noise-free loss
            (:mod:`rlnoise.policies.sni`), or ``None`` (off; PPO/A2C only).
    """

    weight_noise: NoiseSpec | None
    activation_noise: NoiseSpec | None
    noisy_net: NoisyNetConfig | None
    param_noise: NoiseSpec | None
    layer_norm: bool | str
    seed: int
    sni_lambda: float | None = None

    @classmethod
    def validate(
        cls,
        *,
        weight_noise: NoiseSpecLike | None,
        activation_noise: NoiseSpecLike | None,
        noisy_net: Any,
        param_noise: NoiseSpecLike | None,
        layer_norm: bool | str | None,
        noise_seed: int | None,
        seed_source: int | None,
    ) -> NoiseOptions:
        """Check the keywords; raise ``ValueError`` naming the first bad one.

        Args:
            weight_noise: As the policies' keyword (a spec, ``None`` or ``False``).
            activation_noise: As the policies' keyword.
            noisy_net: As the policies' keyword (bool or options).
            param_noise: As the policies' keyword.
            layer_norm: ``True``, ``False``, ``"actor"`` or ``None`` (``"actor"``
                with parameter noise, whose distance the norms keep comparable,
                else off).
            noise_seed: The user's seed, or ``None``.
            seed_source: The algorithm's seed, from which the noise seed derives
                when ``noise_seed`` is ``None`` (fresh entropy if that is ``None`` too).
        """
        if noise_seed is not None:
            noise_seed = check_int("noise_seed", noise_seed)
        weight = _maybe(weight_noise, check_weight_spec, "weight_noise")
        activation = _maybe(activation_noise, check_activation_spec, "activation_noise")
        noisy = NoisyNetConfig.from_value(noisy_net)
        param = _maybe(param_noise, check_param_spec, "param_noise")
        if layer_norm not in (None, True, False, "actor"):
            raise ValueError(f"layer_norm must be true, false, 'actor' or null, got {layer_norm!r}")
        if layer_norm is None:  # the paper's need: the network parameter noise perturbs
            layer_norm = "actor" if param is not None else False
        if noise_seed is None and seed_source is not None:
            noise_seed = derive_seed(seed_source, "rlnoise.policy")
        return cls(weight, activation, noisy, param, layer_norm, resolve_seed(noise_seed))

    def with_sni(self, sni_lambda: float | None) -> NoiseOptions:
        """These options with selective noise injection's weight (``None``: off).

        Raises:
            ValueError: A weight outside [0, 1], or noise SNI cannot serve (:func:`check_sni`).
        """
        if sni_lambda is None:
            return replace(self, sni_lambda=None)
        weight = check_float("sni_lambda", sni_lambda, low=0.0, high=1.0)
        check_sni(self)
        return replace(self, sni_lambda=weight)

    def constructor_parameters(self) -> dict[str, Any]:
        """The keywords that rebuild these options (what ``model.save()`` stores)."""
        return {
            "weight_noise": self.weight_noise,
            "activation_noise": self.activation_noise,
            "noisy_net": self.noisy_net or False,
            "param_noise": self.param_noise,
            "layer_norm": self.layer_norm,
            "noise_seed": self.seed,
            # Only the PPO/A2C policy takes it, and only when set: the others' saved keywords
            # stay what their constructors accept.
            **({} if self.sni_lambda is None else {"sni_lambda": self.sni_lambda}),
        }


def check_sni(options: NoiseOptions) -> None:
    """Refuse selective noise injection without network noise, or with noise that acts.

    SNI (Igl et al., 2019) collects rollouts with the noise-free network: every
    noise source must be off in the ``rollout`` phase and on in ``train``.
    """
    sources: list[tuple[str, tuple[str, ...]]] = []
    if options.weight_noise is not None:
        phases = default_weight_phases(options.weight_noise, on_policy=True)
        sources.append(("weight_noise", phases))
    if options.activation_noise is not None:
        sources.append(("activation_noise", options.activation_noise.phases or ("train",)))
    if options.noisy_net is not None:
        sources.append(("noisy_net", options.noisy_net.phases or ("rollout", "train")))
    if not sources:
        raise ValueError(
            "sni_lambda: selective noise injection needs network noise in the train phase "
            "(weight_noise, activation_noise or noisy_net), got none"
        )
    for field, phases in sources:
        if "rollout" in phases or "train" not in phases:
            raise ValueError(
                f"sni_lambda: selective noise injection acts with the noise-free network and "
                f"trains with the noisy one, so {field} must be on in 'train' and off in "
                f"'rollout'; got phases {list(phases)} (set {field} phases: [train])"
            )


def check_on_policy_hold(field: str, phases: Sequence[str], resample: Any, on_policy: bool) -> None:
    """Refuse, on PPO/A2C, a held sample in rollout and train that is not resampled per rollout.

    The stored log-probabilities come from the sample that acted; a loss that
    sees another sample biases the importance ratio.
    """
    if on_policy and "rollout" in phases and "train" in phases and resample != "rollout":
        raise ValueError(
            f"{field}: on PPO/A2C a sample held in both the rollout and train phases must "
            f"be resampled per 'rollout', so that the loss sees the sample that acted (the "
            f"stored log-probabilities come from it); got resample={resample!r}. Use "
            "resample='rollout', or drop 'train' from phases (the loss then sees the "
            "clean network and PPO's ratio corrects for the noisy behaviour policy)"
        )


def default_weight_phases(spec: NoiseSpec, on_policy: bool) -> tuple[str, ...]:
    """When weight noise is on unless ``spec.phases`` says: fresh noise trains, held noise acts.

    A per-rollout sample on PPO/A2C is on in rollout and train (the loss reuses
    the sample that acted).
    """
    resample = spec.resample
    if resample in (None, "call", "update"):
        phases: tuple[str, ...] = ("train",)
    elif resample == "rollout" and on_policy:
        phases = ("rollout", "train")
    else:
        phases = ("rollout",)
    if spec.phases is not None:
        phases = spec.phases
    if resample not in (None, "call"):
        check_on_policy_hold("weight_noise", phases, resample, on_policy)
    return phases


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

"""Options types of rlnoise's components: what a config may pass to each, checked on load.

One pydantic model per component (a wrapper, a callback, the noisy policies'
keywords) lists its keyword arguments with their types. A config's kwargs for
that component are validated against it when the config loads — noise specs
through :func:`rlnoise.as_noise_spec` and the rules of the slot they fill — so
that ``param_noise: {scale: abc}`` is reported as
``policy_kwargs.param_noise.scale must be a number, got 'abc'`` before any
training starts. The values are passed to the component as written.

Components of other libraries (Gymnasium wrappers, SB3 callbacks) have no
options type: their keys are checked against the constructor's signature and
their values are left to the constructor.

Example:
    >>> from rlnoise.wrappers import ObservationNoise
    >>> check_component_kwargs("env.wrappers[0]", "rlnoise.wrappers.ObservationNoise",
    ...                        ObservationNoise, {"spec": "gausian:0.1"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: env.wrappers[0].spec.kind must be one of ['colored', ...], got 'gausian'
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError, model_validator

from rlnoise.core.spec import NoiseSpec
from rlnoise.experiments.fields import (
    boolean,
    choice,
    first_problem,
    integer,
    noise_spec,
    noise_spec_tree,
    number,
    or_null,
    rebase,
)

__all__ = [
    "COMPONENT_OPTIONS",
    "NoisyPolicyOptions",
    "check_component_kwargs",
    "check_keys_against_signature",
    "options_for",
]


class Options(BaseModel):
    """Base of the options types: unknown keys are errors; nothing is coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _from_checker(checker: Any, name: str) -> PlainValidator:
    """A field checked by one of rlnoise's own ``check(value, field)`` functions."""

    def validate(value: Any) -> Any:
        try:
            checker(value)
        except ValueError as error:
            raise ValueError(rebase(str(error), name)) from None
        return value

    return PlainValidator(validate)


def _schedule(value: Any) -> None:
    from rlnoise.core.schedules import schedule_from_dict

    schedule_from_dict(value)


# -- wrappers ---------------------------------------------------------------------------------
class ObservationNoiseOptions(Options):
    """``rlnoise.wrappers.ObservationNoise``: one spec, or specs per Dict key / Tuple index."""

    spec: Annotated[Any, noise_spec_tree()]


class ActionNoiseOptions(Options):
    """``rlnoise.wrappers.ActionNoise``."""

    spec: Annotated[Any, noise_spec(optional=False)]


class RandomActionReplacementOptions(Options):
    """``rlnoise.wrappers.RandomActionReplacement``."""

    probability: Annotated[float, number(low=0.0, high=1.0)] = 0.1
    schedule: Annotated[Any, _from_checker(_schedule, "schedule")] = None
    per_dimension: Annotated[bool, boolean()] = False


def _levels(value: Any) -> None:
    from rlnoise.wrappers.levels import check_levels

    check_levels(value)


class LevelSetOptions(Options):
    """``rlnoise.wrappers.LevelSet``: a count of training levels or the level seeds."""

    levels: Annotated[Any, _from_checker(_levels, "levels")]
    split_seed: Annotated[int, integer(low=0)] = 0
    order: Annotated[str, choice("shuffle", "seed")] = "shuffle"


def _contexts(value: Any) -> None:
    from rlnoise.wrappers.contexts import check_contexts

    check_contexts(value)


class ContextSetOptions(Options):
    """``rlnoise.wrappers.ContextSet``: the dynamics contexts (attributes / make_kwargs)."""

    contexts: Annotated[Any, _from_checker(_contexts, "contexts")]
    order: Annotated[str, choice("shuffle", "seed")] = "shuffle"


def _randomised_parameters(value: Any) -> None:
    from rlnoise.wrappers.randomization import check_randomization_spec

    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"must map attribute names to noise specs, got {value!r}")
    for name, spec in value.items():
        check_randomization_spec(str(name), spec)


class DomainRandomizationOptions(Options):
    """``rlnoise.wrappers.DomainRandomization``: attribute name -> noise spec."""

    parameters: Annotated[Any, _from_checker(_randomised_parameters, "parameters")]


def _delay(value: Any) -> None:
    from rlnoise.wrappers.delay import check_delay

    check_delay(value, "delay")


def _reward_spec(spec: NoiseSpec) -> None:
    from rlnoise.wrappers.reward import reward_noise_engine

    reward_noise_engine(spec, None, "spec")


class ObservationDelayOptions(Options):
    """``rlnoise.wrappers.ObservationDelay``: ``k`` or ``[low, high]`` steps."""

    delay: Annotated[Any, _from_checker(_delay, "delay")]
    resample: Annotated[str, choice("episode", "step")] = "episode"


class ActionDelayOptions(ObservationDelayOptions):
    """``rlnoise.wrappers.ActionDelay`` (``initial``: checked against the action space)."""

    initial: Any = None


class RewardNoiseOptions(Options):
    """``rlnoise.wrappers.RewardNoise``."""

    spec: Annotated[Any, noise_spec(_reward_spec, optional=False)]


class CartPolePixelsOptions(Options):
    """``rlnoise.envs.CartPolePixels``."""

    size: Annotated[int, integer(low=36, high=1024, why="an image side in pixels")] = 40


def _identifier(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value


# -- callbacks --------------------------------------------------------------------------------
def _gradient_spec(spec: NoiseSpec) -> None:
    from rlnoise.callbacks import GradientNoiseCallback

    GradientNoiseCallback(spec=spec)  # its rules for gradient noise; builds no hooks yet


class GradientNoiseCallbackOptions(Options):
    """``rlnoise.callbacks.GradientNoiseCallback``."""

    spec: Annotated[Any, noise_spec(_gradient_spec)] = None
    eta: Annotated[float | None, or_null(number(low=0.0))] = None
    gamma: Annotated[float | None, or_null(number(low=0.0))] = None
    position: Annotated[str, choice("after_clip", "before_clip")] = "after_clip"
    seed: Annotated[int | None, or_null(integer())] = None
    verbose: Annotated[int, integer(low=0)] = 0

    @model_validator(mode="after")
    def _together(self) -> GradientNoiseCallbackOptions:
        if self.spec not in (None, False) and (self.eta is not None or self.gamma is not None):
            raise ValueError(
                "eta and gamma configure the default annealed spec; with a spec put them in "
                "its schedule ({type: annealed, eta: ..., gamma: ...})"
            )
        return self


class DynamicsLogCallbackOptions(Options):
    """``rlnoise.callbacks.DynamicsLogCallback``."""

    key: Annotated[str, PlainValidator(_identifier)] = "dynamics"
    prefix: Annotated[str, PlainValidator(_identifier)] = "dynamics"
    verbose: Annotated[int, integer(low=0)] = 0


class NoiseScheduleCallbackOptions(Options):
    """``rlnoise.callbacks.NoiseScheduleCallback`` (``extra_sources`` cannot come from YAML)."""

    every: Annotated[int, integer(low=1)] = 1
    remote_every: Annotated[int, integer(low=1)] = 100
    log: Annotated[bool, boolean()] = True
    verbose: Annotated[int, integer(low=0)] = 0


# -- robust training --------------------------------------------------------------------------
def _attack(value: Any) -> None:
    from rlnoise.robust.adversarial import make_attack

    if not isinstance(value, str):  # YAML names an attack; a callable is Python-only
        raise ValueError(f"attack must be an attack name, got {value!r}")
    make_attack(value)


class AdversarialTrainingOptions(Options):
    """``rlnoise.robust.AdversarialTraining``: attacked observations during rollouts."""

    attack: Annotated[str, _from_checker(_attack, "attack")] = "pgd"
    eps: Annotated[float, number(low=0.0)] = 0.1
    fraction: Annotated[float, number(low=0.0, high=1.0)] = 1.0
    per: Annotated[str, choice("step", "episode")] = "step"
    schedule: Annotated[Any, _from_checker(_schedule, "schedule")] = None
    steps: Annotated[int, integer(low=1)] = 10
    step_size: Annotated[float | None, or_null(number(low=0.0))] = None
    seed: Annotated[int | None, or_null(integer())] = None
    log: Annotated[bool, boolean()] = True
    verbose: Annotated[int, integer(low=0)] = 0


class SARegulariserOptions(Options):
    """``rlnoise.robust.SARegulariser``: the state-adversarial regulariser."""

    kappa: Annotated[float, number(low=0.0)] = 0.1
    eps: Annotated[float, number(low=0.0)] = 0.1
    steps: Annotated[int, integer(low=0)] = 5
    step_size: Annotated[float | None, or_null(number(low=0.0))] = None
    kappa_schedule: Annotated[Any, _from_checker(_schedule, "kappa_schedule")] = None
    eps_schedule: Annotated[Any, _from_checker(_schedule, "eps_schedule")] = None
    hinge: Annotated[float, number(low=0.0)] = 1.0
    seed: Annotated[int | None, or_null(integer())] = None
    log: Annotated[bool, boolean()] = True
    verbose: Annotated[int, integer(low=0)] = 0


# -- exploration ------------------------------------------------------------------------------
def _exploration_spec(spec: NoiseSpec) -> None:
    from rlnoise.exploration import check_exploration_spec

    check_exploration_spec(spec)


class ExplorationNoiseCallbackOptions(Options):
    """``rlnoise.exploration.ExplorationNoiseCallback``."""

    spec: Annotated[Any, noise_spec(_exploration_spec, optional=False)]
    seed: Annotated[int | None, or_null(integer())] = None
    verbose: Annotated[int, integer(low=0)] = 0


# -- policies ---------------------------------------------------------------------------------
def _slot_check(module: str, function: str, name: str) -> Any:
    def check(spec: NoiseSpec) -> None:
        checker = getattr(importlib.import_module(module), function)
        try:
            checker(spec, name)
        except ValueError as error:
            raise ValueError(rebase(str(error), name)) from None

    return check


def _noisy_net(value: Any) -> None:
    from rlnoise.nn import NoisyNetConfig

    NoisyNetConfig.from_value(value)


def _layer_norm(value: Any) -> Any:
    if not (value is None or isinstance(value, bool) or value == "actor"):
        raise ValueError(f"must be true, false, 'actor' or null, got {value!r}")
    return value


class NoisyPolicyOptions(Options):
    """The noise keywords every noisy policy (``rlnoise.policies.Noisy*Policy``) takes.

    The policy's other keywords belong to its SB3 base class and are checked
    against SB3's constructor (:mod:`rlnoise.experiments.sb3_kwargs`).
    """

    weight_noise: Annotated[
        Any, noise_spec(_slot_check("rlnoise.nn.weight_noise", "check_weight_spec", "weight_noise"))
    ] = None
    activation_noise: Annotated[
        Any,
        noise_spec(
            _slot_check("rlnoise.nn.activation_noise", "check_activation_spec", "activation_noise")
        ),
    ] = None
    noisy_net: Annotated[Any, _from_checker(_noisy_net, "noisy_net")] = False
    param_noise: Annotated[
        Any, noise_spec(_slot_check("rlnoise.nn.param_noise", "check_param_spec", "param_noise"))
    ] = None
    layer_norm: Annotated[Any, PlainValidator(_layer_norm)] = None
    noise_seed: Annotated[int | None, or_null(integer())] = None
    #: PPO/A2C only (``NoisyActorCriticPolicy``): selective noise injection's λ.
    sni_lambda: Annotated[float | None, or_null(number(low=0.0, high=1.0))] = None


#: Public dotted path -> options type. The test suite checks each against the
#: class's constructor, so a keyword added there without an options field fails.
COMPONENT_OPTIONS: dict[str, type[Options]] = {
    "rlnoise.wrappers.ObservationNoise": ObservationNoiseOptions,
    "rlnoise.wrappers.ActionNoise": ActionNoiseOptions,
    "rlnoise.wrappers.RandomActionReplacement": RandomActionReplacementOptions,
    "rlnoise.wrappers.LevelSet": LevelSetOptions,
    "rlnoise.wrappers.ContextSet": ContextSetOptions,
    "rlnoise.wrappers.DomainRandomization": DomainRandomizationOptions,
    "rlnoise.wrappers.ObservationDelay": ObservationDelayOptions,
    "rlnoise.wrappers.ActionDelay": ActionDelayOptions,
    "rlnoise.wrappers.RewardNoise": RewardNoiseOptions,
    "rlnoise.envs.CartPolePixels": CartPolePixelsOptions,
    "rlnoise.callbacks.DynamicsLogCallback": DynamicsLogCallbackOptions,
    "rlnoise.callbacks.GradientNoiseCallback": GradientNoiseCallbackOptions,
    "rlnoise.callbacks.NoiseScheduleCallback": NoiseScheduleCallbackOptions,
    "rlnoise.robust.AdversarialTraining": AdversarialTrainingOptions,
    "rlnoise.robust.SARegulariser": SARegulariserOptions,
    "rlnoise.exploration.ExplorationNoiseCallback": ExplorationNoiseCallbackOptions,
}


def options_for(cls: type) -> type[Options] | None:
    """The options type of an rlnoise component class, or ``None`` (not rlnoise's)."""
    if not cls.__module__.startswith("rlnoise."):
        return None
    for path, options in COMPONENT_OPTIONS.items():
        module, _, name = path.rpartition(".")
        if getattr(importlib.import_module(module), name, None) is cls:
            return options
    return None


def check_keys_against_signature(
    where: str, target: Any, kwargs: Mapping[str, Any], supplied: tuple[str, ...] = ()
) -> None:
    """Reject keyword arguments ``target`` does not take (unless it takes ``**kwargs``).

    ``supplied`` names arguments rlnoise passes itself (a wrapper's ``env``):
    they are not the user's to give.
    """
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):  # no introspectable signature: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    valid = sorted(n for n, p in parameters.items() if p.kind in named and n not in supplied)
    for key in kwargs:
        if key not in valid:
            raise ValueError(f"unknown key {key!r} in {where}; valid keys are {valid}")


def check_component_kwargs(
    where: str, path: str, cls: type, kwargs: Mapping[str, Any], supplied: tuple[str, ...] = ()
) -> None:
    """Validate the kwargs a config gives component ``cls`` (named ``path`` at ``where``).

    Raises:
        ValueError: One line naming the key path (``callbacks[0].eta must be a number...``),
            or the unknown key with the valid ones listed.
    """
    options = options_for(cls)
    label = f"{where} ({path}) kwargs"
    if options is None:
        check_keys_against_signature(label, cls, kwargs, supplied)
        return
    try:
        options.model_validate(dict(kwargs))
    except ValidationError as error:
        raise ValueError(first_problem(error, options, prefix=where, root_name=label)) from None

"""The noise-spec core: specs, kinds, schedules, and the one engine that turns a spec into draws.

The engine: :class:`NoiseStream` (numpy or torch, joint or per-row generators)
over :class:`UnitBlock` (white noise in blocks) and the stateful processes
(:class:`OUProcess`, :class:`ColoredNoiseProcess`), :class:`HeldDraws` for
draws held over steps, and :class:`Combiner` / :func:`combine`, the one
implementation of how noise combines with a value. Pure numpy + torch; nothing
here imports gymnasium or Stable-Baselines3.
"""

from rlnoise.core.adaptive import AdaptiveScale, AdaptiveScaleController, dqn_distance_target
from rlnoise.core.blocks import UnitBlock
from rlnoise.core.clock import NoiseSource
from rlnoise.core.combine import Combiner, combine
from rlnoise.core.held import HeldDraws
from rlnoise.core.kinds import KINDS, MODES, KindInfo
from rlnoise.core.processes import ColoredNoiseProcess, OUProcess, powerlaw_noise
from rlnoise.core.random import (
    DeviceGenerators,
    RowRandom,
    TorchRowRandom,
    derive_seed,
    make_rng,
    make_torch_generator,
    resolve_seed,
)
from rlnoise.core.sampling import perturb, sample
from rlnoise.core.schedules import (
    SCHEDULES,
    AnnealedSchedule,
    ConstantSchedule,
    CosineSchedule,
    ExponentialSchedule,
    LinearSchedule,
    PiecewiseSchedule,
    Schedule,
    schedule_from_dict,
)
from rlnoise.core.spec import PHASES, RESAMPLE_EVENTS, NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.core.stream import NoiseStream

__all__ = [
    "KINDS",
    "MODES",
    "PHASES",
    "RESAMPLE_EVENTS",
    "SCHEDULES",
    "AdaptiveScale",
    "AdaptiveScaleController",
    "AnnealedSchedule",
    "ColoredNoiseProcess",
    "Combiner",
    "ConstantSchedule",
    "CosineSchedule",
    "DeviceGenerators",
    "ExponentialSchedule",
    "HeldDraws",
    "KindInfo",
    "LinearSchedule",
    "NoiseSource",
    "NoiseSpec",
    "NoiseSpecLike",
    "NoiseStream",
    "OUProcess",
    "PiecewiseSchedule",
    "RowRandom",
    "Schedule",
    "TorchRowRandom",
    "UnitBlock",
    "as_noise_spec",
    "combine",
    "derive_seed",
    "dqn_distance_target",
    "make_rng",
    "make_torch_generator",
    "perturb",
    "powerlaw_noise",
    "resolve_seed",
    "sample",
    "schedule_from_dict",
]

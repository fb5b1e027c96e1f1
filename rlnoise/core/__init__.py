"""The noise-spec core: specs, kinds, schedules, processes, owned randomness.

Pure numpy + torch; nothing here imports gymnasium or Stable-Baselines3.
"""

from rlnoise.core.adaptive import AdaptiveScale, AdaptiveScaleController, dqn_distance_target
from rlnoise.core.clock import NoiseSource
from rlnoise.core.kinds import KINDS, MODES, KindInfo
from rlnoise.core.processes import ColoredNoiseProcess, OUProcess, UnitBlock, powerlaw_noise
from rlnoise.core.random import (
    RowRandom,
    TorchRowRandom,
    derive_seed,
    make_rng,
    make_torch_generator,
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
    "ConstantSchedule",
    "CosineSchedule",
    "ExponentialSchedule",
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
    "derive_seed",
    "dqn_distance_target",
    "make_rng",
    "make_torch_generator",
    "perturb",
    "powerlaw_noise",
    "sample",
    "schedule_from_dict",
]

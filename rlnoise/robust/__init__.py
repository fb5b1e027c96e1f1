"""Robust training against worst-case observation noise, on SB3's own algorithms.

- :class:`~rlnoise.robust.adversarial.AdversarialTraining`: train on observations
  attacked against the current policy (Pattanaik et al., 2018);
- :class:`~rlnoise.robust.sa_regulariser.SARegulariser`: the state-adversarial
  regulariser of SA-PPO / SA-DQN / SA-DDPG (Zhang et al., 2020);
- :class:`~rlnoise.robust.atla.AlternatingTraining`: ATLA-lite, the agent and a
  learned PPO adversary (:mod:`rlnoise.attacks.adversary`, the evaluation's
  ``learned`` attack) trained in turns, with a callback hook for a regulariser.
"""

from rlnoise.robust.adversarial import AdversarialObservations, AdversarialTraining
from rlnoise.robust.atla import AdversaryObservations, AlternatingTraining, ATLASchedule
from rlnoise.robust.sa_regulariser import SARegulariser

__all__ = [
    "ATLASchedule",
    "AdversarialObservations",
    "AdversarialTraining",
    "AdversaryObservations",
    "AlternatingTraining",
    "SARegulariser",
]

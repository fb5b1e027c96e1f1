"""Robust training against worst-case observation noise, on SB3's own algorithms.

- :class:`~rlnoise.robust.adversarial.AdversarialTraining`: train on observations
  attacked against the current policy (Pattanaik et al., 2018);
- :class:`~rlnoise.robust.sa_regulariser.SARegulariser`: the state-adversarial
  regulariser of SA-PPO / SA-DQN / SA-DDPG (Zhang et al., 2020).
"""

from rlnoise.robust.adversarial import AdversarialObservations, AdversarialTraining
from rlnoise.robust.sa_regulariser import SARegulariser

__all__ = ["AdversarialObservations", "AdversarialTraining", "SARegulariser"]

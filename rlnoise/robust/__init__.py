"""Robust training: agents trained against worst-case observation noise.

- :mod:`rlnoise.robust.atla` — ATLA-lite: the agent and a learned PPO
  adversary (:mod:`rlnoise.attacks.adversary`, the evaluation's ``learned``
  attack) trained in turns, with a callback hook for a regulariser.
"""

from rlnoise.robust.atla import AdversarialObservations, AlternatingTraining, ATLASchedule

__all__ = ["ATLASchedule", "AdversarialObservations", "AlternatingTraining"]

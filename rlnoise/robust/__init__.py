"""Robust training: agents trained against worst-case observation noise.

- :mod:`rlnoise.robust.atla` — ATLA-lite: the agent and a learned PPO
  adversary (:mod:`rlnoise.attacks.adversary`) trained in turns.

Import the modules by their full path (``from rlnoise.robust.atla import
AlternatingTraining``): this package imports nothing heavy on its own.
"""

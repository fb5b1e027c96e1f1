"""Attacks on the observations of SB3 policies, within an l_inf budget.

The objectives (what an attack maximises) sit on one engine,
:func:`~rlnoise.attacks.linf.linf_pgd`: projected signed-gradient ascent in a
box around the clean observation, with a scalar or per-dimension radius.
The evaluation grid turns them into conditions; robust training calls them
against the current policy.
"""

from rlnoise.attacks.linf import cross_entropy_direction, linf_attack, linf_pgd

__all__ = ["cross_entropy_direction", "linf_attack", "linf_pgd"]

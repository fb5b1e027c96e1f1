"""Attacks on the observations of SB3 policies, within an l_inf budget.

The objectives (what an attack maximises) sit on one engine,
:func:`~rlnoise.attacks.linf.linf_pgd`: projected signed-gradient ascent in a
box around the clean observation, with a scalar or per-dimension radius.

- :mod:`~rlnoise.attacks.heads`: a policy's action distribution, action and
  critic value, differentiable, per algorithm family (SB3's public API);
- :mod:`~rlnoise.attacks.objectives`: the critic attack and MAD;
- :mod:`~rlnoise.attacks.budget`: ε in absolute, range or state-std units, and
  the one state-std vector of a grid.

The evaluation grid turns them into conditions; robust training calls them
against the current policy.
"""

from rlnoise.attacks.budget import UNITS, estimate_state_std, radius
from rlnoise.attacks.heads import PolicyHeads, policy_family
from rlnoise.attacks.linf import cross_entropy_direction, linf_attack, linf_pgd
from rlnoise.attacks.objectives import critic_objective, mad_objective

__all__ = [
    "UNITS",
    "PolicyHeads",
    "critic_objective",
    "cross_entropy_direction",
    "estimate_state_std",
    "linf_attack",
    "linf_pgd",
    "mad_objective",
    "policy_family",
    "radius",
]

"""What a perturbation that learns from the model may know about the run it attacks.

Most perturbations need only the policy (:class:`~rlnoise.evaluation.policy.PolicyAdapter`).
The learned attacks (:mod:`rlnoise.evaluation.perturbations.learned_attack`)
also roll the policy out in its env, and cache what they learn per model:
the evaluation plan hands every adapter a :class:`RunContext`
(``adapter.context``) before any cell is compiled.

Example:
    >>> from rlnoise.evaluation.envs import EnvMaker
    >>> context = RunContext(digest="abc", maker=EnvMaker("CartPole-v1"), directory=None)
    >>> context.maker.name
    'CartPole-v1'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlnoise.evaluation.envs import EnvMaker

__all__ = ["RunContext"]


@dataclass(frozen=True)
class RunContext:
    """The run behind a policy adapter.

    Attributes:
        digest: Identity of the model: its weights digest (the file's sha256,
            or the tensors' for an in-memory model) and its ``VecNormalize``
            statistics' digest, joined.
        maker: Makes the evaluation's (clean) env.
        directory: Where learned attacks cache what they train (the
            evaluation's ``cells/`` store, under ``learned_attacks/``), or
            ``None``: kept in memory for this process only.
    """

    digest: str
    maker: EnvMaker
    directory: Path | None

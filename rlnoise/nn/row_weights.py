"""Weight noise per row: every row of a batch acts with its own held draw of :class:`WeightNoise`.

The batched robustness evaluation plays many episodes in one forward pass;
under test-time weight noise each episode acts with its own perturbed copy of
the policy's weights. :class:`RowWeightNoise` keeps those copies, one row per
episode, and draws them with :class:`~rlnoise.nn.weight_noise.WeightNoise`
itself: row ``r`` after ``start(r, s)`` holds exactly what a ``WeightNoise``
built with ``seed=s`` and a held draw puts in the forward pass (the same
generators, blocks and combination). :func:`call_with_rows` then runs a module
once for the whole batch, row ``i`` with weights ``i`` (``torch.func.vmap``
over ``functional_call``).

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(3, 2))
    >>> rows = RowWeightNoise(net, "gaussian:0.1", names=["0.weight"], n_rows=4)
    >>> for row in range(4):
    ...     rows.start(row, seed=row)
    >>> call_with_rows(net, rows.weights, torch.ones(4, 3)).shape
    torch.Size([4, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from rlnoise.core.spec import NoiseSpecLike
from rlnoise.nn.control import NoiseControl
from rlnoise.nn.weight_noise import WeightNoise

__all__ = ["RowWeightNoise", "call_with_rows"]


class RowWeightNoise:
    """Held weight noise for ``n_rows`` rows, each drawn from its own seed.

    Args:
        root: The network.
        spec: The noise (as :class:`~rlnoise.nn.weight_noise.WeightNoise` takes
            it); its ``resample`` must hold a draw (unset means ``"episode"``).
        names: Parameter names (``root.named_parameters()``) to perturb.
        n_rows: Rows of the batch.
        field: Option name used in error messages.

    Attributes:
        weights: ``{name: tensor (n_rows, *shape)}``; row ``r`` holds the clean
            parameters until :meth:`start` draws its perturbation.

    Raises:
        ValueError: As ``WeightNoise``, or a spec drawn afresh on every call.
    """

    def __init__(
        self,
        root: nn.Module,
        spec: NoiseSpecLike,
        *,
        names: Sequence[str],
        n_rows: int,
        field: str = "weight_noise",
    ) -> None:
        self.noise = WeightNoise(
            root,
            spec,
            control=NoiseControl(),
            names=names,
            seed=0,  # every row is reseeded by start()
            default_resample="episode",
            label=field,
            field=field,
            register=False,
        )
        if self.noise.fresh:
            raise ValueError(
                f"{field}: each row holds one draw; resample must be unset or an event, not 'call'"
            )
        self.weights: dict[str, torch.Tensor] = {
            target.name: target.param.detach()
            .unsqueeze(0)
            .repeat(n_rows, *[1] * target.param.dim())
            for owner in self.noise.owners
            for target in owner.targets
        }

    @torch.no_grad()
    def start(self, row: int, seed: int) -> None:
        """Row ``row`` takes the draw that a ``WeightNoise`` built with ``seed`` holds."""
        self.noise.reseed(seed)
        for name, value in self.noise.held_parameters().items():
            self.weights[name][row] = value

    def rows(self, rows: Any) -> dict[str, torch.Tensor]:
        """The weights of ``rows`` (an index array), in that order."""
        first = next(iter(self.weights.values()))
        index = torch.as_tensor(rows, device=first.device)
        return {name: weight[index] for name, weight in self.weights.items()}


def call_with_rows(
    module: nn.Module, weights: dict[str, torch.Tensor], inputs: torch.Tensor, prefix: str = ""
) -> torch.Tensor:
    """``module`` on a batch where row ``i`` uses ``weights[name][i]``, in one vmapped call.

    Args:
        module: The module (parameters not in ``weights`` are shared by every row).
        weights: ``{name: (n, *shape)}`` per-row parameters, named as in
            ``module.named_parameters()`` (after ``prefix``).
        inputs: ``(n, ...)`` inputs, one row per weight row.
        prefix: Prepended to each name (``"policy."`` when ``module`` wraps the
            network the names belong to).
    """
    renamed = {f"{prefix}{name}": value for name, value in weights.items()}

    def one_row(row_weights: dict[str, torch.Tensor], row: torch.Tensor) -> torch.Tensor:
        # tie_weights=False: a module shared under several names (PPO's CnnPolicy:
        # features_extractor is pi_features_extractor) is restored under one name by a
        # tying call, which leaves the vmapped tensors in the caller's module. Swapping
        # it once reaches every alias.
        out = torch.func.functional_call(
            module, row_weights, (row.unsqueeze(0),), tie_weights=False
        )
        return out.squeeze(0)

    return torch.func.vmap(one_row)(renamed, inputs)

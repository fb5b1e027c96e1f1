"""Layer normalisation in the hidden layers of an MLP, inserted in place.

Parameter-space noise (Plappert et al., 2018) perturbs every weight by the
same sigma; layer normalisation after each hidden linear layer keeps the
effect of that perturbation comparable across layers. :func:`insert_layer_norm`
adds ``LayerNorm`` right after each hidden ``nn.Linear`` (before its
activation) of an ``nn.Sequential``, keeping the container object, so that
every reference to it (SB3 keeps some in plain lists) stays valid.

Example:
    >>> from torch import nn
    >>> mlp = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
    >>> insert_layer_norm(mlp, output_layer=True)
    1
    >>> [type(m).__name__ for m in mlp]
    ['Linear', 'LayerNorm', 'ReLU', 'Linear']
"""

from __future__ import annotations

from torch import nn

__all__ = ["insert_layer_norm"]


def insert_layer_norm(mlp: nn.Sequential, *, output_layer: bool) -> int:
    """Insert ``LayerNorm`` after each hidden linear layer of ``mlp``; return how many.

    Args:
        mlp: The network, modified in place.
        output_layer: The last linear layer produces the output (no norm after
            it); False when every linear layer is hidden (a latent network
            whose output feeds further heads).

    A linear layer already followed by a ``LayerNorm`` is left alone, so
    calling this twice changes nothing.
    """
    if not isinstance(mlp, nn.Sequential):
        raise ValueError(f"insert_layer_norm needs an nn.Sequential, got {type(mlp).__name__}")
    modules = list(mlp)
    linear_positions = [i for i, m in enumerate(modules) if isinstance(m, nn.Linear)]
    hidden = set(linear_positions[:-1] if output_layer else linear_positions)
    rebuilt: list[nn.Module] = []
    inserted = 0
    for position, module in enumerate(modules):
        rebuilt.append(module)
        follows = modules[position + 1] if position + 1 < len(modules) else None
        if position in hidden and not isinstance(follows, nn.LayerNorm):
            assert isinstance(module, nn.Linear)
            norm = nn.LayerNorm(
                module.out_features, device=module.weight.device, dtype=module.weight.dtype
            )
            rebuilt.append(norm)
            inserted += 1
    if inserted:
        for key, _ in list(mlp.named_children()):
            delattr(mlp, key)
        for index, module in enumerate(rebuilt):
            mlp.add_module(str(index), module)
    return inserted

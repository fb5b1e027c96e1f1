"""How noise combines with a value: the one implementation of every mode, numpy and torch.

=================  ==============================================================
mode               result
=================  ==============================================================
additive           ``x + noise``
multiplicative     ``x * (1 + noise)``; ``dropout``: ``x`` where kept, else 0
                   (kept values times ``1 / (1 - p)`` with ``rescale``)
replace            ``salt_pepper``: the low impulse where hit by pepper, the high
                   one where hit by salt, else ``x``
=================  ==============================================================

Noise comes in one of three forms, so that every injector hands over what it
has without an extra pass over memory:

- *scaled* noise (``scale=None``): the continuous kinds' draws already times
  the scale, what :meth:`rlnoise.core.stream.NoiseStream.sample` returns;
- *unit* noise and its ``scale``: the multiply happens here, fused with the
  combination into one kernel on torch (``add`` with ``alpha``, ``addcmul``);
- *prepared* operands (:func:`prepare`): a block of unit draws turned once into
  the additive noise or the multiplicative factor of its mode, so that
  applying it (:func:`apply_prepared`) is ONE operation — and one autograd
  node — per value, which is what weight noise does per forward pass.

For the mask kinds ``noise`` is a uniform [0, 1) draw and the probability is
the (scheduled) scale. A new mode is added here and in the kinds that accept
it (:data:`rlnoise.core.kinds.KINDS`).

Example:
    >>> import numpy as np
    >>> combine("gaussian", "multiplicative", np.array([2.0]), np.array([0.5]))
    array([3.])
    >>> combine("gaussian", "additive", np.array([1.0]), np.array([2.0]), scale=0.5)
    array([2.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlnoise.core.checks import show

__all__ = ["MODES", "Combiner", "apply_prepared", "combine", "prepare"]

MODES = ("additive", "multiplicative", "replace")


def _dropout(x: Any, noise: Any, probability: Any, rescale: bool) -> Any:
    keep = noise >= probability
    xp: Any = torch if isinstance(x, torch.Tensor) else np
    if rescale:
        # Inverted dropout keeps the expectation; p = 1 drops everything anyway.
        if isinstance(probability, float | int):
            x = x * (1.0 / (1.0 - probability) if probability < 1 else 1.0)
        else:
            denom = 1.0 - probability
            x = x * (1.0 / xp.where(denom > 0, denom, 1.0))
    # where, not x * keep: a dropped inf becomes 0 rather than NaN.
    return xp.where(keep, x, 0.0)


def _salt_pepper(
    x: Any, noise: Any, probability: Any, params: dict[str, Any], low: Any, high: Any
) -> Any:
    values = params.get("values")
    if values is not None:
        low, high = values
    if low is None or high is None:
        raise ValueError(
            "salt_pepper needs impulse values: set 'values: [low, high]' in the spec "
            "or apply it where bounds are known"
        )
    pepper = probability * (1.0 - params.get("salt_ratio", 0.5))
    salt = (noise >= pepper) & (noise < probability)
    if isinstance(x, torch.Tensor):
        low_t = torch.as_tensor(low, dtype=x.dtype, device=x.device)
        high_t = torch.as_tensor(high, dtype=x.dtype, device=x.device)
        return torch.where(salt, high_t, torch.where(noise < pepper, low_t, x))
    out = np.where(salt, high, np.where(noise < pepper, low, x))
    return out.astype(np.asarray(x).dtype, copy=False)


def _additive(x: Any, noise: Any, scale: Any) -> Any:
    if scale is None:
        return x + noise
    if isinstance(x, torch.Tensor) and isinstance(scale, float | int):
        return x.add(noise, alpha=scale)  # one fused kernel
    return x + noise * scale


def _multiplicative(x: Any, noise: Any, scale: Any) -> Any:
    if scale is None:
        return x * (1 + noise)
    if isinstance(x, torch.Tensor):
        if isinstance(scale, float | int):
            return torch.addcmul(x, x, noise, value=scale)  # x + scale * x * noise
        return x + x * noise * scale
    return x * (1 + noise * scale)


_CONTINUOUS = {"additive": _additive, "multiplicative": _multiplicative}


def _continuous(kind: str, mode: str, x: Any, noise: Any, scale: Any) -> Any:
    function = _CONTINUOUS.get(mode)
    if function is None:
        raise ValueError(f"mode {show(mode)} is not supported by kind {show(kind)}")
    return function(x, noise, scale)


def combine(
    kind: str,
    mode: str,
    x: Any,
    noise: Any,
    *,
    probability: Any = 0.0,
    scale: Any = None,
    params: dict[str, Any] | None = None,
    low: Any = None,
    high: Any = None,
) -> Any:
    """Combine clean ``x`` with drawn ``noise`` (numpy arrays or torch tensors).

    Args:
        kind: The noise kind.
        mode: ``additive``, ``multiplicative`` or ``replace``.
        x: Clean values.
        noise: Scaled noise, unit noise (with ``scale``), or uniform [0, 1)
            draws (mask kinds).
        probability: Hit probability for ``dropout`` / ``salt_pepper``.
        scale: For the continuous kinds, the scale of unit ``noise`` (``None``:
            ``noise`` is already scaled).
        params: The spec's kind parameters.
        low: Impulse value for pepper when ``values`` is not set (e.g. the space's low).
        high: Impulse value for salt when ``values`` is not set.

    Example:
        >>> import torch
        >>> combine("dropout", "multiplicative", torch.ones(3), torch.tensor([0.1, 0.5, 0.9]),
        ...         probability=0.5).tolist()
        [0.0, 1.0, 1.0]
    """
    if kind == "dropout":
        return _dropout(x, noise, probability, bool((params or {}).get("rescale")))
    if kind == "salt_pepper":
        return _salt_pepper(x, noise, probability, params or {}, low, high)
    return _continuous(kind, mode, x, noise, scale)


def prepare(kind: str, mode: str, rescale: bool, scale: float, unit: torch.Tensor) -> Any:
    """Turn unit draws (in place) into the operand :func:`apply_prepared` applies in one op.

    Additive: ``unit * scale``; multiplicative: the factor ``1 + unit * scale``;
    ``dropout``: the kept mask times ``1 / (1 - p)`` with ``rescale`` (0 at p = 1).

    Example:
        >>> import torch
        >>> prepare("gaussian", "multiplicative", False, 0.5, torch.tensor([2.0])).tolist()
        [2.0]
    """
    if kind == "dropout":
        keep_value = (1.0 / (1.0 - scale) if scale < 1.0 else 0.0) if rescale else 1.0
        return (unit >= scale).to(unit.dtype).mul_(keep_value)
    if mode == "replace":
        raise ValueError(f"kind {show(kind)} replaces values: it has no prepared form")
    unit = unit.mul_(scale)
    return unit.add_(1.0) if mode == "multiplicative" else unit


def apply_prepared(additive: bool, x: Any, operand: Any) -> Any:
    """``x + operand`` (additive) or ``x * operand`` (multiplicative, dropout)."""
    return x + operand if additive else x * operand


class Combiner:
    """:func:`combine` bound to one spec, with its clip and the non-finite guard.

    Args:
        spec: The noise spec (kind, mode, parameters, clip).
        low: Bounds of the noised values: pepper impulse and ``clip="space"``.
        high: As ``low``.
        clip: Explicit ``(low, high)`` clip bounds in the caller's dtype; by
            default the spec's (``"space"``: ``low``/``high``).
        keep_nonfinite: Non-finite entries of ``x`` come back unchanged (env
            wrappers and streams: an observation that is inf or NaN is not
            clipped, masked or multiplied).

    Example:
        >>> import numpy as np
        >>> from rlnoise.core.spec import NoiseSpec
        >>> clip = Combiner(NoiseSpec.parse("gaussian:1,clip=-1+1"), keep_nonfinite=True)
        >>> clip(np.array([0.5, np.inf]), np.array([2.0, 2.0])).tolist()
        [1.0, inf]
    """

    def __init__(
        self,
        spec: Any,
        *,
        low: Any = None,
        high: Any = None,
        clip: tuple[Any, Any] | None = None,
        keep_nonfinite: bool = False,
    ) -> None:
        self.kind, self.mode = spec.kind, str(spec.mode)
        self.params = spec.param_dict
        self.is_mask = spec.info.scale_is_probability
        self.low, self.high = low, high
        if clip is None and spec.clip is not None:
            if spec.clip == "space":
                if low is None or high is None:
                    raise ValueError("clip='space' needs the bounds of the noised space (low/high)")
                clip = (low, high)
            else:
                clip = (spec.clip[0], spec.clip[1])
        self.clip = clip
        # Non-finite x stays as it is wherever the result could differ from x + noise.
        self.guard = keep_nonfinite and (clip is not None or self.mode != "additive")
        # The function of this kind and mode, looked up once (the call is per step).
        self._apply: Any = None if self.is_mask else _CONTINUOUS.get(self.mode)
        if self._apply is None and not self.is_mask:
            raise ValueError(f"mode {show(self.mode)} is not supported by kind {show(self.kind)}")
        self._plain = clip is None and not self.guard
        # Whether the result keeps a reference to the noise (autograd saves it for the
        # backward pass): then a noise buffer must not be refilled before that pass.
        self.keeps_noise = self.mode == "multiplicative" and not self.is_mask

    def _mask(self, x: Any, noise: Any, probability: Any) -> Any:
        if self.kind == "dropout":
            return _dropout(x, noise, probability, bool(self.params.get("rescale")))
        return _salt_pepper(x, noise, probability, self.params, self.low, self.high)

    def __call__(self, x: Any, noise: Any, factor: Any = None) -> Any:
        """``x`` combined with ``noise``; ``factor`` is the probability (mask kinds) or
        the scale of unit noise (``None``: scaled noise)."""
        out = self._mask(x, noise, factor) if self.is_mask else self._apply(x, noise, factor)
        if self._plain:
            return out
        clip = self.clip
        is_torch = isinstance(out, torch.Tensor)
        if clip is not None:
            out = torch.clamp(out, clip[0], clip[1]) if is_torch else np.clip(out, *clip)
        if self.guard:
            xp: Any = torch if is_torch else np
            out = xp.where(xp.isfinite(x), out, x)
        return out

    def inplace(
        self, xs: Sequence[torch.Tensor], noises: Sequence[torch.Tensor], factor: Any
    ) -> None:
        """Combine each tensor of ``xs`` with its noise in place (e.g. gradients).

        Additive noise goes in with one ``foreach`` call for all tensors.
        """
        if self.is_mask:
            for x, noise in zip(xs, noises, strict=True):
                x.copy_(self(x, noise, factor))
            return
        if self.mode == "additive":
            torch._foreach_add_(list(xs), list(noises), alpha=1.0 if factor is None else factor)
        else:
            for x, noise in zip(xs, noises, strict=True):
                if factor is None:
                    x.mul_(noise + 1.0)
                else:
                    x.addcmul_(x, noise, value=factor)
        if self.clip is not None:
            for x in xs:
                x.clamp_(self.clip[0], self.clip[1])

"""``NoisyLinear``: the noisy layer of NoisyNet (Fortunato et al., 2018).

``y = (mu_w + sigma_w * eps_w) x + (mu_b + sigma_b * eps_b)``, with learnable
``mu`` and ``sigma`` and a noise sample ``eps`` held in registered buffers.

- factorised Gaussian noise (the default): ``eps_w = f(eps_out) f(eps_in)^T``,
  ``eps_b = f(eps_out)``, ``f(x) = sgn(x) sqrt(|x|)``;
  ``mu ~ U(-1/sqrt(p), 1/sqrt(p))`` and ``sigma = sigma0 / sqrt(p)`` with
  ``sigma0 = 0.5``, ``p`` the number of inputs;
- independent Gaussian noise: every entry its own standard normal;
  ``mu ~ U(-sqrt(3/p), sqrt(3/p))`` and ``sigma = 0.017``.

The sample changes only when :meth:`NoisyLinear.reset_noise` is called, and
the noise is switched by the explicit :attr:`NoisyLinear.noise_enabled` flag,
never by ``self.training`` (Stable-Baselines3 puts policies in eval mode while
collecting rollouts, exactly when the noise is needed). With noise off the
layer is the deterministic linear map of the means.

Weight and bias share one tensor per role: ``mu`` and ``sigma`` are
``(out, in + 1)`` with the bias in the last column (``weight_mu``,
``bias_mu``, ... are views of them). One fused multiply-add then gives the
whole effective layer, and an optimizer steps two tensors per layer instead
of four: on small networks both costs are per tensor, not per element.

Example:
    >>> import torch
    >>> layer = NoisyLinear(4, 3, seed=0)
    >>> x = torch.ones(2, 4)
    >>> bool(torch.equal(layer(x), layer(x)))  # one sample until reset_noise()
    True
    >>> before = layer(x)
    >>> layer.reset_noise()
    >>> bool(torch.equal(before, layer(x)))
    False
    >>> layer.noise_enabled = False  # the means only
    >>> bool(torch.allclose(layer(x), x @ layer.weight_mu.T + layer.bias_mu))
    True
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rlnoise.core.blocks import UnitBlock, rows_per_block
from rlnoise.core.checks import check_float, check_int
from rlnoise.core.random import DeviceGenerators, TorchRowRandom, derive_seed, resolve_seed

__all__ = ["NoisyLinear", "signed_sqrt"]


class _NoiseState:
    """A layer's sample version, pending-resample flag and cached effective weights."""

    __slots__ = ("cache", "pending", "version")

    def __init__(self) -> None:
        self.version = 0
        self.pending = False
        self.cache: tuple[tuple[Any, ...], torch.Tensor] | None = None


def signed_sqrt(x: torch.Tensor) -> torch.Tensor:
    """NoisyNet's ``f(x) = sgn(x) sqrt(|x|)`` for factorised noise."""
    return torch.sign(x) * torch.sqrt(torch.abs(x))


def _bias_column_transform(p: int, block: torch.Tensor) -> torch.Tensor:
    """Block transform: ``f`` on ``p + q`` normals, then a 1 after the first ``p``.

    ``f(eps_out) [f(eps_in), 1]^T`` is then the weight noise with the bias
    noise ``f(eps_out)`` as its last column, in one outer product.
    """
    noise = signed_sqrt(block)
    ones = torch.ones(block.shape[0], 1, dtype=block.dtype, device=block.device)
    return torch.cat([noise[:, :p], ones, noise[:, p:]], dim=1)


class NoisyLinear(nn.Module):
    """Linear layer with learnable, explicitly resampled Gaussian weight noise.

    Args:
        in_features: Inputs ``p``.
        out_features: Outputs ``q``.
        bias: Whether the layer has a (noisy) bias.
        factorised: Factorised noise (``p + q`` normals per sample) or
            independent noise (``p q + q`` normals per sample).
        sigma0: Initial noise level: ``sigma = sigma0 / sqrt(p)`` (factorised,
            default 0.5) or ``sigma = sigma0`` (independent, default 0.017).
        seed: Seed of the layer's own generators (``None``: OS entropy).
        device: Where the parameters live.
        dtype: Parameter dtype.

    Attributes:
        mu: Means, ``(out, in + 1)`` with the bias last (``(out, in)`` without bias).
        sigma: Noise scales, same shape.
        epsilon: The current noise sample (a non-persistent buffer), same shape.
        noise_enabled: Use ``mu + sigma * epsilon`` (True) or ``mu`` alone (False).
        cache_effective_weights: With gradients off, keep ``mu + sigma * epsilon``
            between calls until the sample or a parameter changes (in-place
            updates are tracked by version counters; after writing through
            ``.data``, call :meth:`clear_cache`).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        factorised: bool = True,
        sigma0: float | None = None,
        seed: int | None = None,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, low=1)
        self.out_features = check_int("out_features", out_features, low=1)
        self.has_bias = bool(bias)
        self.factorised = bool(factorised)
        default_sigma0 = 0.5 if self.factorised else 0.017
        self.sigma0 = check_float("sigma0", default_sigma0 if sigma0 is None else sigma0, low=0.0)
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        shape = (self.out_features, self.in_features + int(self.has_bias))
        self.mu = nn.Parameter(torch.empty(shape, **factory))
        self.sigma = nn.Parameter(torch.empty(shape, **factory))
        self.register_buffer("epsilon", torch.zeros(shape, **factory), persistent=False)
        self.noise_enabled = True
        self.cache_effective_weights = True
        self.seed = resolve_seed(seed)
        self._draws = self._make_draws()
        self._draws.retarget(self.mu.device, self.mu.dtype)
        # Mutable per-call state lives in a plain object: nn.Module.__setattr__ is slow.
        self._state = _NoiseState()
        self.reset_parameters()
        self.reset_noise()

    def _make_draws(self) -> UnitBlock:
        # One row per sample, split into views once per block: factorised rows hold
        # [f(eps_in), 1] and f(eps_out) (f applied per block); independent rows the
        # whole (out, in + 1) sample.
        source = TorchRowRandom(DeviceGenerators(derive_seed(self.seed, "noise")))
        p, q, b = self.in_features, self.out_features, int(self.has_bias)
        if self.factorised:
            return UnitBlock(
                "gaussian",
                (p + q,),
                source,
                torch.float32,
                rows_per_block(p + b + q),
                # functools.partial, not a closure: the layer stays picklable.
                transform=functools.partial(_bias_column_transform, p) if b else signed_sqrt,
                split=[(p + b,), (q,)],
            )
        numel = q * (p + b)
        return UnitBlock(
            "gaussian", (numel,), source, torch.float32, rows_per_block(numel), split=[(q, p + b)]
        )

    # -- views -------------------------------------------------------------------
    @property
    def weight_mu(self) -> torch.Tensor:
        """Means of the weight, ``(out, in)`` (a view of :attr:`mu`)."""
        return self.mu[:, : self.in_features]

    @property
    def bias_mu(self) -> torch.Tensor | None:
        """Means of the bias (a view of :attr:`mu`), or ``None``."""
        return self.mu[:, self.in_features] if self.has_bias else None

    @property
    def weight_sigma(self) -> torch.Tensor:
        """Noise scales of the weight (a view of :attr:`sigma`)."""
        return self.sigma[:, : self.in_features]

    @property
    def bias_sigma(self) -> torch.Tensor | None:
        """Noise scales of the bias (a view of :attr:`sigma`), or ``None``."""
        return self.sigma[:, self.in_features] if self.has_bias else None

    @property
    def weight_epsilon(self) -> torch.Tensor:
        """The weight's current noise sample."""
        self._draw_if_pending()
        epsilon: Any = self._buffers["epsilon"]
        return epsilon[:, : self.in_features]

    @property
    def bias_epsilon(self) -> torch.Tensor | None:
        """The bias's current noise sample (factorised: ``f(eps_out)``), or ``None``."""
        self._draw_if_pending()
        epsilon: Any = self._buffers["epsilon"]
        return epsilon[:, self.in_features] if self.has_bias else None

    # -- construction ------------------------------------------------------------
    @classmethod
    def from_linear(
        cls,
        linear: nn.Linear,
        *,
        factorised: bool = True,
        sigma0: float | None = None,
        seed: int | None = None,
    ) -> NoisyLinear:
        """A noisy layer whose means are ``linear``'s current weights (its init is kept).

        Example:
            >>> base = nn.Linear(8, 2)
            >>> noisy = NoisyLinear.from_linear(base, seed=1)
            >>> bool(torch.equal(noisy.weight_mu, base.weight))
            True
        """
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"from_linear needs an nn.Linear, got {type(linear).__name__}")
        layer = cls(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            factorised=factorised,
            sigma0=sigma0,
            seed=seed,
            device=linear.weight.device,
            dtype=linear.weight.dtype,
        )
        with torch.no_grad():
            layer.mu[:, : linear.in_features].copy_(linear.weight)
            if linear.bias is not None:
                layer.mu[:, linear.in_features].copy_(linear.bias)
        layer.train(linear.training)
        return layer

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise ``mu`` and ``sigma`` as in the paper, from the layer's own generator."""
        p = self.in_features
        bound = 1.0 / math.sqrt(p) if self.factorised else math.sqrt(3.0 / p)
        sigma = self.sigma0 / math.sqrt(p) if self.factorised else self.sigma0
        generator = DeviceGenerators(derive_seed(self.seed, "init")).get(torch.device("cpu"))
        values = torch.rand(self.mu.shape, generator=generator, dtype=torch.float64)
        self.mu.copy_(values.mul_(2 * bound).sub_(bound))
        self.sigma.fill_(sigma)
        self._state.cache = None

    # -- noise -------------------------------------------------------------------
    def reset_noise(self, lazy: bool = False) -> None:
        """Draw a new noise sample (the only way the sample changes).

        Args:
            lazy: Only mark the sample stale; it is drawn when the layer next
                needs it. Several resampling events before one forward pass
                then cost one draw.

        The buffer is rebound to a new tensor, never written in place, so a
        computation graph built with the previous sample stays valid.
        """
        if lazy:
            self._state.pending = True
        else:
            self._draw()

    def _draw_if_pending(self) -> None:
        if self._state.pending:
            self._draw()

    def _draw(self) -> None:
        # Block draws never require grad: no no_grad context needed (it costs per call).
        sample = self._draws.step()
        if self.factorised:  # ([f(eps_in), 1], f(eps_out))
            self._buffers["epsilon"] = torch.outer(sample[1], sample[0])
        else:
            self._buffers["epsilon"] = sample[0]
        state = self._state
        state.version += 1
        state.pending = False

    def clear_cache(self) -> None:
        """Forget the cached effective weights (after writing parameters through ``.data``)."""
        self._state.cache = None

    def _effective(self) -> torch.Tensor:
        """``mu + sigma * epsilon`` (cached while gradients are off and nothing changed)."""
        # Attribute access (not self._parameters) so that a weight-noise shadow of mu or
        # sigma, put in the instance __dict__ for a forward pass, is what gets used.
        mu, sigma = self.mu, self.sigma
        state = self._state
        if state.pending:
            self._draw()
        epsilon: Any = self._buffers["epsilon"]
        if self.cache_effective_weights and not torch.is_grad_enabled():
            # Tensor._version is torch's in-place version counter (an optimizer step bumps
            # it); it has no public name, so this is the one read of it, marked as such.
            versions = (mu._version, sigma._version)  # noqa: SLF001
            key = (state.version, *versions, mu.data_ptr())
            cache = state.cache
            if cache is not None and cache[0] == key:
                return cache[1]
            effective = torch.addcmul(mu, sigma, epsilon)
            state.cache = (key, effective)
            return effective
        return torch.addcmul(mu, sigma, epsilon)

    def effective_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weight and bias the layer applies now (``mu`` alone when noise is off)."""
        full = self._effective() if self.noise_enabled else self.mu
        p = self.in_features
        return full[:, :p], (full[:, p] if self.has_bias else None)

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight (what :meth:`forward` multiplies by)."""
        return self.effective_parameters()[0]

    @property
    def bias(self) -> torch.Tensor | None:
        """The effective bias."""
        return self.effective_parameters()[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The per-step path, written out: on a small network the Python around the
        # three kernels (outer product at a draw, multiply-add, matmul) is the cost.
        d = self.__dict__
        mu = d.get("mu")  # a weight-noise shadow, if one is in place
        if mu is None:
            mu = d["_parameters"]["mu"]
        if not d["noise_enabled"]:
            full = mu
        elif d["cache_effective_weights"] and not torch.is_grad_enabled():
            full = self._effective()
        else:
            state = d["_state"]
            if state.pending:
                self._draw()
            sigma = d.get("sigma")
            if sigma is None:
                sigma = d["_parameters"]["sigma"]
            full = torch.addcmul(mu, sigma, d["_buffers"]["epsilon"])
        if not d["has_bias"]:
            return F.linear(x, full)
        # A column of ones on the input applies [weight | bias] in one matmul; slicing
        # the two apart instead would cost two views, and two scatter-backs in backward.
        return F.linear(torch.constant_pad_nd(x, (0, 1), 1.0), full)

    def _apply(self, fn: Any, recurse: bool = True) -> NoisyLinear:
        # .to()/.cuda() replace the tensors: cached weights refer to the old ones, and
        # new draws must come from a generator on the new device.
        self._state.cache = None
        out = super()._apply(fn, recurse)
        self._draws.retarget(self.mu.device, self.mu.dtype)
        return out

    def extra_repr(self) -> str:
        kind = "factorised" if self.factorised else "independent"
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.has_bias}, noise={kind}, sigma0={self.sigma0:g}"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        copied = _NoiseState()  # same sample, no cached tensors
        copied.version, copied.pending = self._state.version, self._state.pending
        state["_state"] = copied
        # The sample may be a view of a whole block of draws: keep only the sample.
        epsilon: Any = self._buffers["epsilon"]
        state["_buffers"] = {**self._buffers, "epsilon": epsilon.clone()}
        state.pop("_compiled_call_impl", None)
        return state

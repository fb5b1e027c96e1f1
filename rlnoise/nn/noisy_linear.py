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

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rlnoise.core._checks import check_float, check_int
from rlnoise.core.random import derive_seed
from rlnoise.nn._random import BlockDraws, DeviceGenerators, resolve_seed

__all__ = ["NoisyLinear", "signed_sqrt"]


class _NoiseState:
    """A layer's sample version, pending-resample flag and cached effective weights."""

    __slots__ = ("cache", "pending", "version")

    def __init__(self) -> None:
        self.version = 0
        self.pending = False
        self.cache: tuple[tuple[Any, ...], torch.Tensor, torch.Tensor | None] | None = None


def signed_sqrt(x: torch.Tensor) -> torch.Tensor:
    """NoisyNet's ``f(x) = sgn(x) sqrt(|x|)`` for factorised noise."""
    return torch.sign(x) * torch.sqrt(torch.abs(x))


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
        noise_enabled: Use ``mu + sigma * eps`` (True) or ``mu`` alone (False).
        cache_effective_weights: With gradients off, keep ``mu + sigma * eps``
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
        self.factorised = bool(factorised)
        default_sigma0 = 0.5 if self.factorised else 0.017
        self.sigma0 = check_float("sigma0", default_sigma0 if sigma0 is None else sigma0, low=0.0)
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        shape = (self.out_features, self.in_features)
        self.weight_mu = nn.Parameter(torch.empty(shape, **factory))
        self.weight_sigma = nn.Parameter(torch.empty(shape, **factory))
        self.register_buffer("weight_epsilon", torch.zeros(shape, **factory), persistent=False)
        self.bias_mu: nn.Parameter | None
        self.bias_sigma: nn.Parameter | None
        if bias:
            self.bias_mu = nn.Parameter(torch.empty(self.out_features, **factory))
            self.bias_sigma = nn.Parameter(torch.empty(self.out_features, **factory))
            self.register_buffer(
                "bias_epsilon", torch.zeros(self.out_features, **factory), persistent=False
            )
        else:
            self.register_parameter("bias_mu", None)
            self.register_parameter("bias_sigma", None)
            self.register_buffer("bias_epsilon", None, persistent=False)
        self.noise_enabled = True
        self.cache_effective_weights = True
        self.seed = resolve_seed(seed)
        self._draws = self._make_draws()
        self._draws.retarget(self.weight_mu.device, self.weight_mu.dtype)
        # Mutable per-call state lives in a plain object: nn.Module.__setattr__ is slow.
        self._state = _NoiseState()
        self.reset_parameters()
        self.reset_noise()

    def _make_draws(self) -> BlockDraws:
        # One row per sample, split into views once per block: factorised rows hold
        # f(eps_in), f(eps_out) (f applied per block); independent rows the weight and
        # bias noise themselves.
        generators = DeviceGenerators(derive_seed(self.seed, "noise"))
        p, q = self.in_features, self.out_features
        if self.factorised:
            return BlockDraws(
                "gaussian", p + q, generators, transform=signed_sqrt, shapes=[(p,), (q,)]
            )
        return BlockDraws("gaussian", q * p + q, generators, shapes=[(q, p), (q,)])

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
            layer.weight_mu.copy_(linear.weight)
            if linear.bias is not None and layer.bias_mu is not None:
                layer.bias_mu.copy_(linear.bias)
        layer.train(linear.training)
        return layer

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise ``mu`` and ``sigma`` as in the paper, from the layer's own generator."""
        p = self.in_features
        bound = 1.0 / math.sqrt(p) if self.factorised else math.sqrt(3.0 / p)
        sigma = self.sigma0 / math.sqrt(p) if self.factorised else self.sigma0
        generator = DeviceGenerators(derive_seed(self.seed, "init")).get(torch.device("cpu"))
        for mu, sig in ((self.weight_mu, self.weight_sigma), (self.bias_mu, self.bias_sigma)):
            if mu is None or sig is None:
                continue
            values = torch.rand(mu.shape, generator=generator, dtype=torch.float64)
            mu.copy_(values.mul_(2 * bound).sub_(bound))
            sig.fill_(sigma)
        self._state.cache = None

    # -- noise -------------------------------------------------------------------
    def reset_noise(self, lazy: bool = False) -> None:
        """Draw a new noise sample (the only way the sample changes).

        Args:
            lazy: Only mark the sample stale; it is drawn when the layer next
                needs it. Several resampling events before one forward pass
                then cost one draw.

        The buffers are rebound to new tensors, never written in place, so a
        computation graph built with the previous sample stays valid.
        """
        if lazy:
            self._state.pending = True
        else:
            self._draw()

    def _draw(self) -> None:
        # Block draws never require grad: no no_grad context needed (it costs per call).
        draws = self._draws
        served, index = draws._served, draws._next
        if index < len(served):
            draws._next = index + 1
            first, second = served[index]
        else:
            first, second = draws.next()
        buffers = self._buffers
        if self.factorised:  # first = f(eps_in), second = f(eps_out)
            buffers["weight_epsilon"] = torch.outer(second, first)
        else:  # first = weight noise, second = bias noise
            buffers["weight_epsilon"] = first
        if self._parameters["bias_mu"] is not None:
            buffers["bias_epsilon"] = second
        state = self._state
        state.version += 1
        state.pending = False

    def clear_cache(self) -> None:
        """Forget the cached effective weights (after writing parameters through ``.data``)."""
        self._state.cache = None

    def _cache_key(self) -> tuple[Any, ...]:
        params = self._parameters
        weight_mu, weight_sigma = params["weight_mu"], params["weight_sigma"]
        assert weight_mu is not None and weight_sigma is not None
        key: tuple[Any, ...] = (
            self._state.version,
            weight_mu._version,
            weight_sigma._version,
            weight_mu.data_ptr(),
        )
        bias_mu, bias_sigma = params["bias_mu"], params["bias_sigma"]
        if bias_mu is not None and bias_sigma is not None:
            key += (bias_mu._version, bias_sigma._version)
        return key

    def effective_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weight and bias the layer applies now (``mu`` alone when noise is off)."""
        params: dict[str, Any] = self._parameters
        if not self.noise_enabled:
            return params["weight_mu"], params["bias_mu"]
        state = self._state
        if state.pending:
            self._draw()
        cacheable = self.cache_effective_weights and not torch.is_grad_enabled()
        if cacheable:
            key = self._cache_key()
            cache = state.cache
            if cache is not None and cache[0] == key:
                return cache[1], cache[2]
        buffers: dict[str, Any] = self._buffers
        weight = torch.addcmul(
            params["weight_mu"], params["weight_sigma"], buffers["weight_epsilon"]
        )
        bias = None
        if params["bias_mu"] is not None:
            bias = torch.addcmul(params["bias_mu"], params["bias_sigma"], buffers["bias_epsilon"])
        state.cache = (key, weight, bias) if cacheable else None
        return weight, bias

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight (what :meth:`forward` multiplies by)."""
        return self.effective_parameters()[0]

    @property
    def bias(self) -> torch.Tensor | None:
        """The effective bias."""
        return self.effective_parameters()[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params: dict[str, Any] = self._parameters
        if not self.noise_enabled:
            return F.linear(x, params["weight_mu"], params["bias_mu"])
        state = self._state
        if state.pending:
            self._draw()
        if self.cache_effective_weights and not torch.is_grad_enabled():
            weight, bias = self.effective_parameters()
            return F.linear(x, weight, bias)
        # The common per-step path, inlined: two fused multiply-adds and the matmul.
        buffers: dict[str, Any] = self._buffers
        weight = torch.addcmul(
            params["weight_mu"], params["weight_sigma"], buffers["weight_epsilon"]
        )
        bias_mu = params["bias_mu"]
        if bias_mu is None:
            return F.linear(x, weight)
        bias = torch.addcmul(bias_mu, params["bias_sigma"], buffers["bias_epsilon"])
        return F.linear(x, weight, bias)

    def _apply(self, fn: Any, recurse: bool = True) -> NoisyLinear:
        # .to()/.cuda() replace the tensors: cached weights refer to the old ones, and
        # new draws must come from a generator on the new device.
        self._state.cache = None
        out = super()._apply(fn, recurse)
        self._draws.retarget(self.weight_mu.device, self.weight_mu.dtype)
        return out

    def extra_repr(self) -> str:
        kind = "factorised" if self.factorised else "independent"
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias_mu is not None}, noise={kind}, sigma0={self.sigma0:g}"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        copied = _NoiseState()  # same sample, no cached tensors
        copied.version, copied.pending = self._state.version, self._state.pending
        state["_state"] = copied
        return state

"""The one combine: scaled, unit and prepared forms agree; numpy and torch agree; guards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlnoise import NoiseSpec
from rlnoise.core.combine import Combiner, apply_prepared, combine, prepare

F32 = np.finfo(np.float32).eps


def _values(seed: int, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_unit_noise_with_its_scale_equals_the_scaled_noise(mode: str) -> None:
    x, unit = _values(0)
    scale = 0.3
    # numpy computes noise * scale first either way: exactly the same
    np.testing.assert_array_equal(
        combine("gaussian", mode, x, unit, scale=scale),
        combine("gaussian", mode, x, unit * np.float32(scale)),
    )
    # torch fuses the multiply into one kernel: one rounding instead of two
    fused = combine("gaussian", mode, torch.from_numpy(x), torch.from_numpy(unit), scale=scale)
    plain = combine("gaussian", mode, torch.from_numpy(x), torch.from_numpy(unit) * scale)
    torch.testing.assert_close(fused, plain, rtol=2 * F32, atol=2 * F32)


@pytest.mark.parametrize(
    ("text", "factor"),
    [
        ("gaussian:0.2", 0.2),
        ("uniform:0.2,mode=multiplicative", 0.2),
        ("dropout:0.3", 0.3),
        ("dropout:0.3,rescale=true", 0.3),
    ],
)
def test_prepared_operands_apply_in_one_op_as_combine_does(text: str, factor: float) -> None:
    spec = NoiseSpec.parse(text)
    x, unit = (torch.from_numpy(v) for v in _values(1))
    if spec.kind == "dropout":
        unit = unit.abs().clamp(max=0.999)  # uniform-like draws in [0, 1)
    expected = Combiner(spec)(x, unit, factor)
    rescale = bool(spec.param_dict.get("rescale", False))
    operand = prepare(spec.kind, str(spec.mode), rescale, factor, unit.clone())
    got = apply_prepared(spec.mode == "additive", x, operand)
    torch.testing.assert_close(got, expected, rtol=2 * F32, atol=2 * F32)


@pytest.mark.parametrize(
    "text",
    [
        "gaussian:0.1",
        "laplace:0.1,mode=multiplicative,clip=-1+1",
        "dropout:0.4,rescale=true",
        "salt_pepper:0.3,values=-2+2",
    ],
)
def test_in_place_on_a_list_equals_out_of_place(text: str) -> None:
    spec = NoiseSpec.parse(text)
    combiner = Combiner(spec, clip=spec.clip if isinstance(spec.clip, tuple) else None)
    factor = 0.4 if spec.info.scale_is_probability else 0.1
    xs = [torch.linspace(-3, 3, 12).reshape(3, 4), torch.linspace(-1, 2, 5)]
    gen = torch.Generator().manual_seed(0)
    noises = [torch.rand(x.shape, generator=gen) for x in xs]
    expected = [combiner(x, n, factor) for x, n in zip(xs, noises, strict=True)]
    combiner.inplace(xs, noises, factor)
    for got, want in zip(xs, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=2 * F32, atol=2 * F32)


@pytest.mark.parametrize(
    "text",
    [
        "gaussian:1,clip=-1+1",
        "uniform:0.5,mode=multiplicative",
        "dropout:0.5",
        "salt_pepper:0.5,values=-1+1",
    ],
)
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_non_finite_values_pass_through_when_asked(text: str, backend: str) -> None:
    spec = NoiseSpec.parse(text)
    x = np.array([np.inf, -np.inf, np.nan, 0.5])
    noise = np.array([-1.5, -1.5, 0.2, 0.2])  # a factor 1 + noise < 0 flips inf's sign
    if backend == "torch":
        x, noise = torch.from_numpy(x), torch.from_numpy(noise).abs()
    factor = 0.5 if spec.info.scale_is_probability else None
    out = Combiner(spec, keep_nonfinite=True)(x, noise, factor)
    np.testing.assert_array_equal(np.asarray(out)[:3], np.asarray(x)[:3])


@pytest.mark.parametrize("text", ["dropout:0.4", "dropout:0.4,rescale=true", "salt_pepper:0.4"])
def test_mask_kinds_agree_between_numpy_and_torch(text: str) -> None:
    spec = NoiseSpec.parse(text)
    x = np.linspace(-1, 1, 50)
    uniforms = np.random.default_rng(0).random(50)
    kwargs = {"probability": 0.4, "params": spec.param_dict, "low": -5.0, "high": 5.0}
    in_numpy = combine(spec.kind, str(spec.mode), x, uniforms, **kwargs)
    in_torch = combine(
        spec.kind, str(spec.mode), torch.from_numpy(x), torch.from_numpy(uniforms), **kwargs
    )
    np.testing.assert_array_equal(in_numpy, in_torch.numpy())


def test_a_mode_the_kind_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="mode 'replace' is not supported by kind 'gaussian'"):
        combine("gaussian", "replace", np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="salt_pepper needs impulse values"):
        combine("salt_pepper", "replace", np.zeros(2), np.zeros(2), probability=0.1)

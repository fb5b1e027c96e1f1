"""UnitBlock: block hand-out, prescaling, transforms and splits, retargeting, copies."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch

from rlnoise.core.blocks import UnitBlock, rows_per_block
from rlnoise.core.random import DeviceGenerators, RowRandom, TorchRowRandom


def _double(calls: list[int], block: torch.Tensor) -> torch.Tensor:
    calls.append(1)
    return block * 2


def test_a_split_and_transformed_block_hands_out_views_of_one_draw_per_step() -> None:
    calls: list[int] = []
    block = UnitBlock(
        "gaussian",
        (6,),
        TorchRowRandom(torch.Generator().manual_seed(0)),
        torch.float32,
        block_size=4,
        transform=functools.partial(_double, calls),
        split=[(2, 2), (2,)],
    )
    generator = torch.Generator().manual_seed(0)
    raw = torch.cat([torch.randn((4, 6), generator=generator) for _ in range(2)])
    for step in range(8):
        weight, bias = block.step()
        assert weight.shape == (2, 2) and bias.shape == (2,)
        torch.testing.assert_close(torch.cat([weight.flatten(), bias]), raw[step] * 2)
    assert len(calls) == 2  # once per block of 4 steps, not per step


def test_prescaling_applies_from_the_next_draw_on() -> None:
    block = UnitBlock("uniform", (3,), RowRandom(np.random.default_rng(1)), np.float64, 16)
    unit = UnitBlock("uniform", (3,), RowRandom(np.random.default_rng(1)), np.float64, 16)
    np.testing.assert_array_equal(block.step(), unit.step())
    block.set_multiplier(0.5)
    for _ in range(20):  # across a refill
        np.testing.assert_array_equal(block.step(), 0.5 * unit.step())


def test_retargeting_is_lazy_and_draws_from_the_devices_generator() -> None:
    # Nothing is drawn before the first step, so a block retargeted to float64 right away
    # draws exactly what a fresh generator gives in float64.
    block = UnitBlock("gaussian", (5,), TorchRowRandom(DeviceGenerators(3)), torch.float32, 4)
    block.retarget(torch.device("cpu"), torch.float64)
    expected = torch.randn(
        (4, 5), generator=DeviceGenerators(3).get(torch.device("cpu")), dtype=torch.float64
    )
    assert block.step().dtype == torch.float64
    torch.testing.assert_close(
        torch.stack([expected[0], *[block.step() for _ in range(3)]]), expected
    )


def test_a_copy_continues_where_the_block_stood() -> None:
    block = UnitBlock("laplace", (2,), RowRandom(np.random.default_rng(2), n_rows=3), np.float32, 8)
    for _ in range(5):
        block.step()
    twin = copy.deepcopy(block)
    assert block.position == twin.position == 5
    for _ in range(10):
        np.testing.assert_array_equal(block.step(), twin.step())


def test_rows_per_block_fits_the_element_budget() -> None:
    assert rows_per_block(1) == 256
    assert rows_per_block(4096) == 16
    assert rows_per_block(10**7) == 1


@pytest.mark.parametrize(("kind", "size"), [("gaussian", 1), ("laplace", 1), ("uniform", 4)])
def test_drawing_into_a_buffer_gives_the_same_values(kind: str, size: int) -> None:
    def block() -> UnitBlock:
        source = TorchRowRandom(torch.Generator().manual_seed(5))
        return UnitBlock(kind, (33,), source, torch.float32, block_size=size)

    into, fresh = block(), block()
    buffer = torch.empty(33)
    for _ in range(6):
        torch.testing.assert_close(into.step_into(buffer), fresh.step(), rtol=0, atol=0)

"""A CartPole that stops at a chosen reset until the process gets a signal.

For the Ctrl-C tests: a command started in a subprocess with
``RLNOISE_TEST_GATE="SEED:N"`` prints ``GATE_LINE`` on stdout at the ``N``-th
reset with seed ``SEED`` and waits there; the test reads that line (no clock,
no sleep), then interrupts it. Without the variable the env is plain CartPole.
Importing this module registers ``ENV_ID``.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

ENV_ID = "GatedCartPole-v1"
GATE = "RLNOISE_TEST_GATE"
GATE_LINE = "gate: waiting for a signal"


class GatedCartPole(CartPoleEnv):
    """CartPole-v1 whose chosen reset waits for a signal (see the module docstring)."""

    seeded_resets: dict[int, int] = {}  # noqa: RUF012 (counts per process, across instances)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        gate = os.environ.get(GATE)
        if gate and seed is not None:
            gate_seed, n = (int(part) for part in gate.split(":"))
            count = self.seeded_resets[seed] = self.seeded_resets.get(seed, 0) + 1
            if seed == gate_seed and count == n:
                print(GATE_LINE, flush=True)
                signal.pause()  # until SIGINT (KeyboardInterrupt) or another signal
        return super().reset(seed=seed, options=options)


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=GatedCartPole, max_episode_steps=500)


def gate_cartpole() -> None:
    """Make ``CartPole-v1`` itself gated in this process (for commands that fix the env id).

    The registry entry is replaced in place: ``gym.register`` would warn about
    the override on stderr, which the tests read.
    """
    import dataclasses

    spec = gym.registry["CartPole-v1"]
    gym.registry["CartPole-v1"] = dataclasses.replace(spec, entry_point=GatedCartPole)

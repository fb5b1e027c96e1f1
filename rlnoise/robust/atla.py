"""ATLA-lite: an agent and a learned adversary trained in turns (Zhang et al., 2021).

The adversary is the evaluation's learned optimal adversary
(:mod:`rlnoise.attacks.adversary`): an SB3 PPO whose action in ``[-1, 1]^d``
is scaled into the l_inf ball of radius ``eps`` and added to the observation
the agent sees, rewarded with the agent's negated reward. Training alternates
on a fixed schedule, ``rounds`` times:

1. **agent phase** — ``agent_steps`` of the agent's own ``learn`` on envs whose
   observations (and terminal observations) the current adversary perturbs,
   drawing its actions stochastically as ATLA does, so what the agent stores
   and learns from are the perturbed observations;
2. **adversary phase** — ``adversary_steps`` of the adversary's PPO against the
   now fixed agent (acting stochastically, as in its own training).

The agent phases take extra SB3 callbacks (``agent_callbacks``): the hook for
a regulariser such as the state-adversarial one (ATLA + SA). Both models and
the schedule's progress are saved in one directory and loaded back.

Cost: an agent phase is the agent's plain training plus one adversary forward
per env step; an adversary phase is a PPO run of ``adversary_steps`` with one
agent forward per step (README "Learned attacks" gives steps/s).

Example:
    >>> from stable_baselines3 import PPO
    >>> from stable_baselines3.common.env_util import make_vec_env
    >>> import gymnasium as gym
    >>> agent = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_steps=16,
    ...             batch_size=32, seed=0, device="cpu")
    >>> atla = AlternatingTraining(
    ...     agent, lambda: gym.make("CartPole-v1"), eps=0.1,
    ...     schedule=ATLASchedule(agent_steps=32, adversary_steps=32, rounds=1),
    ...     adversary_config=AdversaryConfig(
    ...         n_envs=2, ppo_kwargs={"n_steps": 16, "batch_size": 32}),
    ... )
    >>> [phase for phase, _, _ in atla.learn().phases]
    ['agent', 'adversary']
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlnoise.attacks.adversary import AdversaryConfig, check_radius, radius_key, train_adversary
from rlnoise.core.checks import check_int
from rlnoise.runs.files import atomic_path, write_text

__all__ = ["ATLASchedule", "AdversaryObservations", "AlternatingTraining"]


@dataclass(frozen=True)
class ATLASchedule:
    """How ATLA-lite alternates.

    Attributes:
        agent_steps: Env steps of each agent phase (a multiple of the agent's
            rollout size for on-policy agents, or SB3 rounds it up).
        adversary_steps: Env steps of each adversary phase.
        rounds: Agent phase + adversary phase pairs.
    """

    agent_steps: int = 10_000
    adversary_steps: int = 10_000
    rounds: int = 10

    def __post_init__(self) -> None:
        check_int("atla.agent_steps", self.agent_steps, low=1)
        check_int("atla.adversary_steps", self.adversary_steps, low=1)
        check_int("atla.rounds", self.rounds, low=1)


def _vec_wrapper_base() -> Any:
    # SB3 is imported when ATLA runs, not when rlnoise.robust is imported.
    from stable_baselines3.common.vec_env import VecEnvWrapper

    return VecEnvWrapper


class AdversaryObservations(_vec_wrapper_base()):  # type: ignore[misc]
    """A VecEnv whose observations a PPO adversary perturbs: ``clip(s + eps * a, low, high)``.

    Args:
        venv: The agent's vector env (Box observations).
        adversary: Anything with SB3's ``predict`` (the adversary PPO); read
            at every step, so the agent always faces its current weights.
        eps: l_inf radius (a float or one per observation dimension).
        deterministic: Use the adversary's mean action (``False``: sample, as
            ATLA does while the agent trains).
    """

    def __init__(self, venv: Any, adversary: Any, eps: Any, deterministic: bool = False):
        super().__init__(venv)
        space = venv.observation_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"ATLA needs a Box observation space, got {space}")
        self.adversary, self.deterministic = adversary, deterministic
        self.eps = check_radius("eps", eps, tuple(space.shape))

    def perturb(self, obs: np.ndarray) -> np.ndarray:
        """Perturbed copies of an observation batch."""
        action, _ = self.adversary.predict(obs, deterministic=self.deterministic)
        space = self.observation_space
        delta = self.eps * np.clip(action, -1.0, 1.0)
        return np.clip(obs + delta, space.low, space.high).astype(obs.dtype)

    def reset(self) -> np.ndarray:
        return self.perturb(self.venv.reset())

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        for info in infos:  # the agent bootstraps from it: it sees it perturbed too
            if "terminal_observation" in info:
                terminal = info["terminal_observation"]
                info["terminal_observation"] = self.perturb(terminal[None])[0]
        return self.perturb(obs), rewards, dones, infos


class AlternatingTraining:
    """An agent and a PPO adversary trained in turns (see the module docstring).

    Args:
        agent: An SB3 algorithm on a Box-observation env; its env is replaced
            by ``agent.n_envs`` envs from ``make_env`` behind the adversary.
        make_env: A new env per call.
        eps: l_inf radius (a float or one per observation dimension).
        schedule: Steps per phase and rounds.
        adversary_config: The adversary's envs, seed and PPO settings (its
            ``timesteps`` is ignored: the schedule sets each phase's).
        agent_callbacks: SB3 callbacks for every agent phase (e.g. a
            state-adversarial regulariser: ATLA + SA).
        adversary: An adversary PPO to continue (``None``: a new one).
        device: The adversary's device.

    Attributes:
        phases: ``(phase, first timestep, last timestep)`` of each phase run,
            counted in that model's own timesteps.
    """

    def __init__(
        self,
        agent: Any,
        make_env: Callable[[], gym.Env],
        eps: Any,
        *,
        schedule: ATLASchedule | None = None,
        adversary_config: AdversaryConfig | None = None,
        agent_callbacks: Sequence[Any] = (),
        adversary: Any = None,
        device: str = "cpu",
    ):
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env

        self.agent, self.make_env = agent, make_env
        self.schedule = schedule or ATLASchedule()
        self.config = adversary_config or AdversaryConfig()
        self.agent_callbacks = list(agent_callbacks)
        probe = make_env()
        self.eps = check_radius("eps", eps, tuple(probe.observation_space.shape or ()))
        if adversary is None:
            from rlnoise.attacks.adversary import adversary_vec_env

            n_envs = self.config.n_envs  # set_env keeps a model's number of envs
            venv = adversary_vec_env(make_env, self._victim, eps, n_envs, self.config.seed)
            adversary = PPO("MlpPolicy", venv, seed=self.config.seed, device=device,
                            **dict(self.config.ppo_kwargs))  # fmt: skip
        probe.close()
        self.adversary = adversary
        venv = make_vec_env(make_env, n_envs=agent.n_envs, seed=self.config.seed)
        agent.set_env(AdversaryObservations(venv, adversary, eps))
        self.phases: list[tuple[str, int, int]] = []
        self.rounds_done = 0

    def _victim(self, obs: np.ndarray) -> np.ndarray:
        action, _ = self.agent.predict(obs, deterministic=False)
        return action

    def agent_phase(self) -> None:
        """``schedule.agent_steps`` of the agent against the current adversary."""
        first = self.agent.num_timesteps
        self.agent.learn(
            self.schedule.agent_steps, reset_num_timesteps=False,
            callback=list(self.agent_callbacks) or None,
        )  # fmt: skip
        self.phases.append(("agent", first, self.agent.num_timesteps))

    def adversary_phase(self) -> None:
        """``schedule.adversary_steps`` of the adversary against the current agent."""
        first = self.adversary.num_timesteps
        config = dataclasses.replace(
            self.config,
            timesteps=self.schedule.adversary_steps,
            seed=self.config.seed + 1 + self.rounds_done,  # new episodes each phase
        )
        train_adversary(self.make_env, self._victim, self.eps, config, model=self.adversary)
        self.phases.append(("adversary", first, self.adversary.num_timesteps))

    def learn(self, rounds: int | None = None) -> AlternatingTraining:
        """Run ``rounds`` (default: the schedule's) agent + adversary phase pairs."""
        total = self.schedule.rounds if rounds is None else check_int("rounds", rounds, low=1)
        for _ in range(total):
            self.agent_phase()
            self.adversary_phase()
            self.rounds_done += 1
        return self

    # -- persistence ---------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """``agent.zip``, ``adversary.zip`` and ``atla.json`` (settings, progress), atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, model in (("agent", self.agent), ("adversary", self.adversary)):
            with atomic_path(directory / f"{name}.zip") as temporary:
                model.save(temporary)
        cls = type(self.agent)
        record = {
            "agent_class": f"{cls.__module__}.{cls.__qualname__}",
            "eps": radius_key(self.eps),
            "schedule": dataclasses.asdict(self.schedule),
            "adversary_config": self.config.to_dict(),
            "rounds_done": self.rounds_done,
            "phases": [list(p) for p in self.phases],
        }
        write_text(directory / "atla.json", json.dumps(record, indent=2) + "\n")
        return directory

    @classmethod
    def load(
        cls,
        directory: str | Path,
        make_env: Callable[[], gym.Env],
        *,
        agent_callbacks: Sequence[Any] = (),
        device: str = "cpu",
    ) -> AlternatingTraining:
        """Both models and the schedule's progress, ready to :meth:`learn` more rounds."""
        from stable_baselines3 import PPO

        directory = Path(directory)
        record = json.loads((directory / "atla.json").read_text(encoding="utf-8"))
        module, _, name = record["agent_class"].rpartition(".")
        agent_cls = getattr(importlib.import_module(module), name)
        agent = agent_cls.load(directory / "agent.zip", device=device)
        adversary = PPO.load(directory / "adversary.zip", device=device)
        config = record["adversary_config"]
        out = cls(
            agent, make_env, np.asarray(record["eps"], dtype=np.float32),
            schedule=ATLASchedule(**record["schedule"]),
            adversary_config=AdversaryConfig(**config), agent_callbacks=agent_callbacks,
            adversary=adversary, device=device,
        )  # fmt: skip
        out.rounds_done = record["rounds_done"]
        out.phases = [(p[0], p[1], p[2]) for p in record["phases"]]
        return out

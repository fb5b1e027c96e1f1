"""The one module that touches Stable-Baselines3's internals and the call stack.

A noisy policy needs the algorithm it serves for things SB3's policy API
does not pass it. This module finds that algorithm, keeps it, and reads
from it what the noise needs; nothing else in rlnoise reads SB3's private
attributes or looks at the call stack.

====================  ==========================================  ==============================
what the noise needs  when                                        read from the algorithm
====================  ==========================================  ==============================
compatibility check   construction                                ``policy_aliases``
noise seed            construction (``noise_seed`` unset)         ``seed``
epsilon = 0 (DQN)     construction                                ``exploration_*_eps``
acting step           off-policy ``predict`` on its observation   ``_last_obs``, ``n_envs``
episode               off-policy acting step                      ``_episode_num``
episode               PPO/A2C ``forward`` outside training        ``_last_episode_starts``
step clock            whenever a schedule is read                 ``num_timesteps``
``noise/*`` logs      ``set_training_mode(True)`` (``train()``)   ``logger``
minibatch (SNI)       PPO/A2C ``evaluate_actions`` in ``train``   ``rollout_buffer``, loss settings
epsilon target (DQN)  parameter-noise adaptation                  ``_current_progress_remaining``
====================  ==========================================  ==============================

Evaluation reads two more things of a policy, through public helpers here:
its actions before post-processing (:func:`predict_tensor`, SB3's
``_predict``) and the arguments that rebuild it on another device
(:func:`constructor_parameters`, SB3's ``_get_constructor_parameters``).

The rollout start and end, the ``train`` and ``update`` events are the
policy's own (:mod:`rlnoise.policies.phases`, optimizer hooks in
:mod:`rlnoise.policies.assembly`); they need no algorithm.

How a policy finds its algorithm, and why this way. SB3 builds a policy in
one place: the algorithm's ``_setup_model`` runs ``self.policy =
self.policy_class(observation_space, action_space, lr_schedule,
**policy_kwargs)``, for ``PPO(...)``, for ``Algorithm.load(...)`` (which
calls ``_setup_model`` again) and in every sb3-contrib algorithm. None of
those arguments refers to the algorithm. So at construction the policy reads
one frame: the code that called the policy class (its own ``__init__`` chain
skipped). If that code is a method of an SB3 algorithm (``self`` there is a
``BaseAlgorithm``), the policy binds to it, once, with a weak reference.
Only the direct caller counts: a policy built by a callback, an evaluator or
``Policy.load`` while another model trains stays unbound (a walk up the
stack would bind it to the training model, and a DQN policy would zero that
model's epsilon). The alternatives, and why not:

- Wrapping the algorithm's ``_setup_model``/``_setup_learn``/``learn``: the
  algorithm is not known before the policy is built, so this means patching
  SB3's classes at import time: a global change to every algorithm, including
  those that never see rlnoise, one patch per sb3-contrib class, and
  behaviour that depends on import order.
- A callback: users would have to pass it (binding is automatic by promise),
  and it arrives at ``learn()``, after what construction needs: the check,
  the noise seed derived from the algorithm's seed, DQN's epsilon schedule
  (SB3 builds it from the attributes right after the policy).
- ``set_training_mode``, ``predict``, ``forward``: SB3 calls them with
  tensors and flags only.
- An argument in ``policy_kwargs``: the algorithm does not exist when the
  user writes them, and SB3 saves them with the model.

What the binding survives:

- ``model.save()`` / ``Algorithm.load()``: ``load`` runs ``_setup_model``, so
  the policy binds to the loaded model; DQN's original epsilon schedule is
  saved on the algorithm (``_rlnoise_epsilon_schedule``) and found again.
- ``learn(reset_num_timesteps=False)``: nothing to rebind; the clock reads
  ``num_timesteps`` live and the episode count is compared with the last seen.
- ``copy.deepcopy(model)``: the copy's policy binds to the copy; a policy
  copied alone keeps the original's algorithm.
- ``pickle``: a pickled policy comes back unbound (the weak reference does not
  travel); :meth:`~rlnoise.policies.NoisyPolicyMixin.attach` binds it again.
- ``SubprocVecEnv``: the policy stays in the main process with the algorithm;
  only the environments are remote, and everything read here lives on the
  algorithm.
- sb3-contrib: any ``BaseAlgorithm`` that builds its policy in a method; its
  ``policy_aliases`` decide which noisy policy it accepts.
- No algorithm (a policy built by hand, ``Policy.load``, or by a helper
  function rather than a method of the algorithm): unbound; the noise runs on
  its own step count, ``predict`` is ``eval``, nothing is logged, and
  :meth:`~rlnoise.policies.NoisyPolicyMixin.attach` binds it.

Cost: a few frames (the policy's ``__init__`` chain and its caller) are read
once per construction. Per acting call the binding
dereferences the weak reference and reads one or two attributes, as the
inline code it replaces did.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm

from rlnoise.nn.control import NoiseControl
from rlnoise.policies.losses import Minibatch

__all__ = [
    "EPSILON_SCHEDULE_ATTRIBUTE",
    "AlgorithmBinding",
    "MinibatchCapture",
    "check_algorithm",
    "constructing_algorithm",
    "constructor_parameters",
    "predict_tensor",
    "replace_epsilon_greedy",
]

# The DQN's own epsilon schedule, kept on the algorithm (and so in its saved data).
EPSILON_SCHEDULE_ATTRIBUTE = "_rlnoise_epsilon_schedule"

_THIS_MODULE = globals()


def constructing_algorithm(policy: object) -> BaseAlgorithm | None:
    """The SB3 algorithm whose method is calling ``policy``'s class, if any.

    Frames of this module and of ``policy``'s own methods (its ``__init__``
    chain) are skipped; the first frame after them decides.

    Example:
        >>> class Built:
        ...     def __init__(self):
        ...         self.algorithm = constructing_algorithm(self)
        >>> Built().algorithm is None  # built by a doctest, not by an algorithm
        True
    """
    frame = sys._getframe(1)
    try:
        while frame is not None and (
            frame.f_globals is _THIS_MODULE or frame.f_locals.get("self") is policy
        ):
            frame = frame.f_back  # type: ignore[assignment]
        caller = None if frame is None else frame.f_locals.get("self")
    finally:
        del frame
    return caller if isinstance(caller, BaseAlgorithm) else None


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def check_algorithm(policy_class: type, algorithm: BaseAlgorithm, family: type) -> None:
    """Raise ``ValueError`` if ``algorithm`` cannot use ``policy_class`` (DQN with a PPO policy).

    An algorithm accepts the policies derived from those in its
    ``policy_aliases``. The message names rlnoise's policy for it: the
    subclasses of ``family`` defined in :mod:`rlnoise.policies` that it accepts.
    """
    accepted = tuple(
        c for c in getattr(algorithm, "policy_aliases", {}).values() if isinstance(c, type)
    )
    if not accepted or issubclass(policy_class, accepted):
        return
    offered = [
        c
        for c in dict.fromkeys(_subclasses(family))
        if c.__module__.startswith("rlnoise.policies.") and issubclass(c, accepted)
    ]
    noisy = [
        c.__name__ for c in offered if not any(d is not c and issubclass(c, d) for d in offered)
    ]
    hint = f"; use {' or '.join(noisy)}" if noisy else "; rlnoise has no noisy policy for it"
    algo = type(algorithm).__name__
    roots = {
        c.__name__ for c in accepted if not any(c is not d and issubclass(c, d) for d in accepted)
    }
    raise ValueError(
        f"policy {policy_class.__name__} does not work with {algo}, which needs a subclass of "
        f"{sorted(roots)}{hint}"
    )


def replace_epsilon_greedy(algorithm: BaseAlgorithm) -> tuple[float, float, float] | None:
    """NoisyNet and parameter-noise DQN act with epsilon = 0: set it on the algorithm.

    Fortunato et al. (2018) replace epsilon-greedy by the network's noise, so
    the DQN's ``exploration_initial_eps`` and ``exploration_final_eps`` become
    0 (SB3 builds its exploration schedule from them right after the policy).
    The user's schedule ``(initial, final, fraction)`` is returned (parameter
    noise turns it into its KL target) and kept on the algorithm as
    :data:`EPSILON_SCHEDULE_ATTRIBUTE`, so that ``DQN.load()`` finds it there
    rather than the zeros. An algorithm without an epsilon schedule is left
    alone (``None``). ``verbose >= 1`` prints that epsilon was set to 0.

    Example:
        >>> from stable_baselines3 import DQN
        >>> model = DQN("MlpPolicy", "CartPole-v1", exploration_final_eps=0.1, device="cpu")
        >>> replace_epsilon_greedy(model)
        (1.0, 0.1, 0.1)
        >>> model.exploration_initial_eps, model.exploration_final_eps
        (0.0, 0.0)
    """
    if not hasattr(algorithm, "exploration_initial_eps"):
        return None
    saved = getattr(algorithm, EPSILON_SCHEDULE_ATTRIBUTE, None)
    if saved is None:
        saved = (
            float(algorithm.exploration_initial_eps),
            float(algorithm.exploration_final_eps),  # type: ignore[attr-defined]
            float(algorithm.exploration_fraction),  # type: ignore[attr-defined]
        )
        setattr(algorithm, EPSILON_SCHEDULE_ATTRIBUTE, saved)
    start, end, fraction = saved  # a list after SB3's JSON round trip
    current = (algorithm.exploration_initial_eps, algorithm.exploration_final_eps)  # type: ignore[attr-defined]
    if current != (0.0, 0.0):
        if getattr(algorithm, "verbose", 0) >= 1:
            print(
                "NoisyDQNPolicy: network noise replaces epsilon-greedy; setting "
                "exploration_initial_eps and exploration_final_eps to 0"
            )
        algorithm.exploration_initial_eps = 0.0
        algorithm.exploration_final_eps = 0.0  # type: ignore[attr-defined]
    return (float(start), float(end), float(fraction))


def predict_tensor(policy: Any, observation: Any, deterministic: bool = True) -> Any:
    """SB3's actions for a batch of observation tensors, before any post-processing.

    What ``policy.predict`` computes between ``obs_to_tensor`` and the
    clipping or unscaling of Box actions (SB3's ``_predict``): the way to act
    with a policy family whose distribution rlnoise does not evaluate itself
    (QR-DQN, ARS, CrossQ...).

    Example:
        >>> import torch
        >>> from stable_baselines3 import DQN
        >>> policy = DQN("MlpPolicy", "CartPole-v1", device="cpu").policy
        >>> predict_tensor(policy, torch.zeros(3, 4)).shape
        torch.Size([3])
    """
    return policy._predict(observation, deterministic=deterministic)


def constructor_parameters(policy: Any) -> dict[str, Any]:
    """The keyword arguments that rebuild ``policy`` (what ``BasePolicy.load`` uses).

    Example:
        >>> from stable_baselines3 import PPO
        >>> policy = PPO("MlpPolicy", "CartPole-v1", device="cpu").policy
        >>> clone = type(policy)(**constructor_parameters(policy))
        >>> clone.action_space == policy.action_space
        True
    """
    return dict(policy._get_constructor_parameters())


class MinibatchCapture:
    """Stands in for one rollout buffer's ``get``: the minibatches it yields are remembered.

    PPO and A2C draw every minibatch of ``train()`` from
    ``rollout_buffer.get(batch_size)`` and pass its observations to
    ``policy.evaluate_actions``; a loss term that needs the rest of the
    minibatch (old log-probabilities, advantages, returns) finds it here.
    Installed as an attribute of that buffer object only (SB3's class is left
    alone); a new buffer (``load``) gets its own at the next ``train()``.

    Args:
        get: The buffer's own bound ``get``.
    """

    __slots__ = ("get", "last")

    def __init__(self, get: Callable[..., Iterator[Any]]) -> None:
        self.get = get
        self.last: Any = None

    def __call__(self, batch_size: int | None = None) -> Iterator[Any]:
        for samples in self.get(batch_size):
            self.last = samples
            yield samples
        self.last = None


class AlgorithmBinding:
    """The algorithm a policy serves (held weakly) and the SB3 state its noise reads.

    Safe to copy and pickle: a deep copy of the algorithm gives its policy's
    binding the algorithm copy; a pickled binding comes back unbound.

    Args:
        algorithm: The algorithm, or ``None`` (unbound).

    Attributes:
        acting_call: True while an off-policy ``predict`` acts for the algorithm.
        seen_episodes: The algorithm's episode count at the last acting step.

    Example:
        >>> binding = AlgorithmBinding()
        >>> binding.algorithm is None, binding.steps()
        (True, None)
    """

    __slots__ = ("_ref", "acting_call", "seen_episodes")

    def __init__(self, algorithm: BaseAlgorithm | None = None) -> None:
        self._ref: weakref.ref[BaseAlgorithm] | None = None
        self.acting_call = False
        self.seen_episodes: int | None = None
        if algorithm is not None:
            self.bind(algorithm)

    @classmethod
    def at_construction(cls, policy: object) -> AlgorithmBinding:
        """The binding of a policy being built: to the algorithm building it, if one is."""
        return cls(constructing_algorithm(policy))

    @property
    def algorithm(self) -> BaseAlgorithm | None:
        """The bound algorithm, or ``None``."""
        return None if self._ref is None else self._ref()

    def bind(self, algorithm: BaseAlgorithm) -> None:
        """Serve ``algorithm`` from now on."""
        if not isinstance(algorithm, BaseAlgorithm):
            raise ValueError(f"attach needs an SB3 algorithm, got {type(algorithm).__name__}")
        self._ref = weakref.ref(algorithm)

    def __deepcopy__(self, memo: dict[int, Any]) -> AlgorithmBinding:
        algorithm = self.algorithm
        copied = AlgorithmBinding(memo.get(id(algorithm), algorithm))
        copied.acting_call = self.acting_call
        copied.seen_episodes = self.seen_episodes
        return copied

    def __reduce__(self) -> tuple[type, tuple[()], tuple[bool, int | None]]:
        return (AlgorithmBinding, (), (self.acting_call, self.seen_episodes))

    def __setstate__(self, state: tuple[bool, int | None]) -> None:
        self.acting_call, self.seen_episodes = state

    # -- what the noise reads ------------------------------------------------------
    def steps(self) -> int | None:
        """The algorithm's ``num_timesteps`` (the noise's step clock), or ``None``."""
        algorithm = self.algorithm
        return None if algorithm is None else int(algorithm.num_timesteps)

    def progress_remaining(self) -> float | None:
        """SB3's training progress (1 at the start of ``learn()``, 0 at the end), or ``None``."""
        algorithm = self.algorithm
        return None if algorithm is None else algorithm._current_progress_remaining

    def on_policy_step(self, control: NoiseControl, rows: int) -> None:
        """PPO/A2C acting (``forward`` outside training): a step, an episode if one began."""
        algorithm = None if self._ref is None else self._ref()
        starts = None if algorithm is None else getattr(algorithm, "_last_episode_starts", None)
        control.begin_acting(rows, starts is not None and bool(starts.any()))

    def off_policy_step(self, control: NoiseControl, observation: Any) -> bool:
        """If ``observation`` is the algorithm's own, this ``predict`` acts: feed its events.

        DQN, SAC and TD3 collect rollouts through ``predict(self._last_obs)``; any
        other ``predict`` (an evaluation, a callback) is not acting. An episode
        began when the algorithm's episode count moved since the last acting step.
        """
        algorithm = None if self._ref is None else self._ref()
        if algorithm is None or observation is not algorithm.__dict__.get("_last_obs"):
            return False
        count = algorithm._episode_num
        episode = count != self.seen_episodes
        self.seen_episodes = count
        control.begin_acting(algorithm.n_envs, episode)
        return True

    def capture_minibatches(self) -> None:
        """Remember the minibatches PPO/A2C draw (call as ``train()`` starts, before they are)."""
        algorithm = self.algorithm
        buffer = None if algorithm is None else getattr(algorithm, "rollout_buffer", None)
        if buffer is not None and not isinstance(buffer.get, MinibatchCapture):
            buffer.get = MinibatchCapture(buffer.get)

    def minibatch(self, observations: Any) -> Minibatch | None:
        """The PPO/A2C minibatch whose ``observations`` these are, with the loss settings.

        ``None`` outside ``train()``, for other observations, or for an
        algorithm other than PPO and A2C (and their subclasses).
        """
        from stable_baselines3 import A2C, PPO

        algorithm = self.algorithm
        buffer = None if algorithm is None else getattr(algorithm, "rollout_buffer", None)
        capture = None if buffer is None else buffer.get
        if not isinstance(capture, MinibatchCapture) or capture.last is None:
            return None
        if capture.last.observations is not observations:
            return None
        progress = algorithm._current_progress_remaining  # type: ignore[union-attr]
        if isinstance(algorithm, PPO):
            clip_vf = algorithm.clip_range_vf
            return Minibatch(
                samples=capture.last,
                algorithm="ppo",
                clip_range=float(algorithm.clip_range(progress)),  # type: ignore[operator]
                clip_range_vf=None if clip_vf is None else float(clip_vf(progress)),  # type: ignore[operator]
                normalize_advantage=bool(algorithm.normalize_advantage),
                ent_coef=float(algorithm.ent_coef),
                vf_coef=float(algorithm.vf_coef),
            )
        if isinstance(algorithm, A2C):
            return Minibatch(
                samples=capture.last,
                algorithm="a2c",
                clip_range=None,
                clip_range_vf=None,
                normalize_advantage=bool(algorithm.normalize_advantage),
                ent_coef=float(algorithm.ent_coef),
                vf_coef=float(algorithm.vf_coef),
            )
        return None

    def log(self, logs: Callable[[], dict[str, float]]) -> None:
        """Record ``noise/<key>`` for each of ``logs()`` in the algorithm's SB3 logger, if set."""
        algorithm = self.algorithm
        logger = None if algorithm is None else getattr(algorithm, "logger", None)
        if logger is None:
            return
        for key, value in logs().items():
            logger.record(f"noise/{key}", value)

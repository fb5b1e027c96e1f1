"""What a Stable-Baselines3 algorithm owns: its torch optimizers and the names of their parameters.

SB3 declares, per algorithm, which state dicts ``save()`` writes (the keys
of its public ``get_parameters()``): ``policy.optimizer`` for PPO/A2C/DQN,
``actor.optimizer``, ``critic.optimizer`` and ``ent_coef_optimizer`` for SAC,
the same attribute names in sb3-contrib (TQC, QRDQN, CrossQ, ...). That list is
the algorithm's own statement of the optimizers it steps, so it is read first;
modules of the policy and attributes of the model that hold an optimizer are
picked up as well, for algorithms that forget to declare one.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

__all__ = ["find_optimizers", "parameter_names"]


def _resolve(obj: Any, dotted: str) -> Any:
    try:
        return functools.reduce(getattr, dotted.split("."), obj)
    except AttributeError:
        return None


def _declared_state(model: Any) -> list[str]:
    getter = getattr(model, "get_parameters", None)
    if getter is None:
        return []
    try:
        return list(getter())
    except (AttributeError, NotImplementedError, TypeError):
        return []


def find_optimizers(model: Any) -> list[tuple[str, torch.optim.Optimizer]]:
    """Every torch optimizer ``model`` owns, as ``(name, optimizer)`` pairs, each once.

    Names follow SB3's ``save()`` names: ``policy.optimizer``,
    ``actor.optimizer``, ``critic.optimizer``, ``ent_coef_optimizer``.

    Raises:
        ValueError: The model has no optimizer (an algorithm such as ARS that
            never calls ``optimizer.step()``).

    Example:
        >>> from stable_baselines3 import PPO
        >>> [name for name, _ in find_optimizers(PPO("MlpPolicy", "CartPole-v1", device="cpu"))]
        ['policy.optimizer']
    """
    found: dict[int, tuple[str, torch.optim.Optimizer]] = {}

    def add(name: str, value: Any) -> None:
        if isinstance(value, torch.optim.Optimizer) and id(value) not in found:
            found[id(value)] = (name, value)

    state_dicts = _declared_state(model)
    for name in state_dicts:
        add(name, _resolve(model, name))
    policy = getattr(model, "policy", None)
    if isinstance(policy, torch.nn.Module):
        for module_name, module in policy.named_modules():
            optimizer = module.__dict__.get("optimizer")
            add(f"{module_name}.optimizer" if module_name else "policy.optimizer", optimizer)
    for name, value in vars(model).items():
        add(name, value)
    if not found:
        looked = ", ".join(state_dicts) or "nothing declared"
        raise ValueError(
            f"found no torch optimizer on {type(model).__name__} (its saved state: {looked}; "
            "policy modules and model attributes searched too); gradient noise needs an "
            "algorithm that steps a torch.optim.Optimizer"
        )
    return list(found.values())


def parameter_names(model: Any) -> dict[int, str]:
    """Map ``id(tensor)`` to a readable name for every trainable tensor of ``model``.

    Policy parameters keep their ``policy.named_parameters()`` names
    (``mlp_extractor.policy_net.0.weight``, ``actor.mu.weight``,
    ``critic.qf0.0.bias``); tensors the algorithm saves beside the policy keep
    their attribute name (SAC's ``log_ent_coef``; a saved tensor that does not
    require grad is in no optimizer, so it needs no name).

    Example:
        >>> from stable_baselines3 import SAC
        >>> names = set(parameter_names(SAC("MlpPolicy", "Pendulum-v1", device="cpu")).values())
        >>> {"actor.latent_pi.0.weight", "critic.qf0.0.bias", "log_ent_coef"} <= names
        True
    """
    names: dict[int, str] = {}
    policy = getattr(model, "policy", None)
    if isinstance(policy, torch.nn.Module):
        for name, parameter in policy.named_parameters():
            names.setdefault(id(parameter), name)
    for name, value in vars(model).items():
        if isinstance(value, torch.Tensor) and value.requires_grad:
            names.setdefault(id(value), name)
    return names

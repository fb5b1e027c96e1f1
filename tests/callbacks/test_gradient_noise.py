"""GradientNoiseCallback: exact noise, where it lands, every algorithm, hooks, persistence."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from sb3_contrib import ARS, QRDQN, TQC
from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.logger import Logger

from rlnoise.callbacks import UPDATE_COUNT_KEY, GradientNoiseCallback, NoiseScheduleCallback
from rlnoise.callbacks._model import find_optimizers
from rlnoise.core.kinds import unit_torch
from rlnoise.core.spec import NoiseSpec
from rlnoise.core.stream import NoiseStream
from tests.callbacks.helpers import Capture, Probe, SpySGD

GAMMA = 0.55


def sigma(eta: float, t: int) -> float:
    """Neelakantan et al.: sigma_t^2 = eta / (1 + t)^gamma."""
    return math.sqrt(eta / (1 + t) ** GAMMA)


def tiny_ppo(**kwargs: Any) -> PPO:
    """PPO with a recording SGD: 2 minibatch updates per 64-step rollout."""
    settings: dict[str, Any] = dict(n_steps=64, batch_size=32, n_epochs=1, device="cpu", seed=0)
    settings.update(kwargs)
    policy_kwargs = dict(net_arch=[16], optimizer_class=SpySGD)
    return PPO("MlpPolicy", "CartPole-v1", policy_kwargs=policy_kwargs, **settings)


def replay(state: torch.Tensor, numel: int, scales: list[float]) -> list[torch.Tensor]:
    """The noise a generator in ``state`` gives for consecutive updates: unit x scale."""
    generator = torch.Generator()
    generator.set_state(state)
    return [unit_torch("gaussian", generator, (numel,)) * s for s in scales]


def attached(spec: Any = None, **kwargs: Any) -> tuple[PPO, GradientNoiseCallback, SpySGD]:
    """A PPO model with the callback's hooks on, outside of learn(), to step by hand."""
    model = tiny_ppo()
    callback = GradientNoiseCallback(spec, seed=3, **kwargs)
    callback.init_callback(model)
    callback.on_training_start({}, {})
    optimizer = model.policy.optimizer
    assert isinstance(optimizer, SpySGD)
    return model, callback, optimizer


def set_grads(optimizer: SpySGD, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    for param in optimizer.tracked:
        param.grad = torch.randn(param.shape, generator=generator)
    return torch.cat([p.grad.reshape(-1) for p in optimizer.tracked])  # type: ignore[union-attr]


# -- the noise itself ---------------------------------------------------------------


@pytest.mark.parametrize("t", [1, 2, 10, 1000])
def test_noise_is_unit_noise_times_sigma_t(t: int) -> None:
    _, callback, optimizer = attached(eta=0.3)
    optimizer.param_groups[0][UPDATE_COUNT_KEY] = t
    state = callback.generator("policy.optimizer").get_state()
    for param in optimizer.tracked:
        param.grad = torch.zeros_like(param)
    optimizer.step()
    (expected,) = replay(state, sum(p.numel() for p in optimizer.tracked), [sigma(0.3, t)])
    torch.testing.assert_close(optimizer.seen[-1], expected, rtol=1e-6, atol=0.0)
    assert optimizer.param_groups[0][UPDATE_COUNT_KEY] == t + 1
    callback.on_training_end()


def kind_cases() -> list[tuple[str, Any]]:
    """(spec, expected seen gradient from clean gradient g and unit draws u)."""
    return [
        ("uniform:0.01", lambda g, u: g + 0.01 * u),
        ("laplace:0.02", lambda g, u: g + 0.02 * u),
        ("gaussian:0.1,mode=multiplicative", lambda g, u: g * (1 + 0.1 * u)),
        ("gaussian:1.0,clip=-0.2+0.2", lambda g, u: torch.clamp(g + u, -0.2, 0.2)),
        ("dropout:0.5", lambda g, u: g * (u >= 0.5)),
        ("salt_pepper:0.2,values=-1+1", None),
    ]


@pytest.mark.parametrize(("text", "expect"), kind_cases())
def test_other_kinds_combine_as_their_spec_says(text: str, expect: Any) -> None:
    spec = NoiseSpec.parse(text)
    _, callback, optimizer = attached(spec)
    numel = sum(p.numel() for p in optimizer.tracked)
    replica = torch.Generator()
    replica.set_state(callback.generator("policy.optimizer").get_state())
    clean = set_grads(optimizer)
    optimizer.step()
    unit = unit_torch(spec.kind, replica, (numel,))
    if expect is None:  # salt_pepper: pepper below 0.1, salt in [0.1, 0.2), else untouched
        expected = torch.where(unit < 0.1, -1.0, torch.where(unit < 0.2, 1.0, clean))
    else:
        expected = expect(clean, unit)
    torch.testing.assert_close(optimizer.seen[-1], expected.float(), rtol=1e-6, atol=1e-7)
    callback.on_training_end()


def test_ou_gradient_noise_keeps_its_state_across_updates() -> None:
    spec = NoiseSpec.parse("ou:0.1,theta=0.5,dt=0.1")
    _, callback, optimizer = attached(spec)
    numel = sum(p.numel() for p in optimizer.tracked)
    replica = torch.Generator()
    replica.set_state(callback.generator("policy.optimizer").get_state())
    stream = NoiseStream(spec, (numel,), replica, dtype=torch.float32, block_size=1)
    for update in range(3):
        clean = set_grads(optimizer, seed=update)
        optimizer.step()
        stream.set_step(update)
        torch.testing.assert_close(optimizer.seen[-1], clean + stream.sample())
    callback.on_training_end()


# -- where the noise lands, inside real PPO updates ---------------------------------------


def test_after_clip_optimizer_sees_clipped_gradient_plus_exactly_the_noise() -> None:
    model = tiny_ppo(max_grad_norm=0.5)
    callback = GradientNoiseCallback(eta=1.0, seed=0)
    probe = Probe(callback)
    model.learn(128, callback=[callback, probe])
    spy = model.policy.optimizer
    assert len(spy.seen) == 4 and callback.n_updates == 4
    numel = spy.seen[0].numel()
    noise = replay(probe.states["policy.optimizer"], numel, [sigma(1.0, t) for t in range(4)])
    for raw, clean, seen, drawn in zip(spy.raw, spy.clean, spy.seen, noise, strict=True):
        # clip_grad_norm_ ran on the clean gradient, and the noise came after it.
        coef = min(1.0, 0.5 / (float(raw.norm()) + 1e-6))
        torch.testing.assert_close(clean, raw * coef, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(seen - clean, drawn, rtol=0, atol=1e-6)
        assert float(seen.norm()) > 0.5 * 5  # the noise (norm ~ sqrt(numel)) is not clipped


def test_before_clip_noise_is_added_to_the_raw_gradient_and_clipped_with_it() -> None:
    model = tiny_ppo(max_grad_norm=0.5)
    callback = GradientNoiseCallback(eta=1.0, seed=0, position="before_clip")
    probe = Probe(callback)
    model.learn(128, callback=[callback, probe])
    spy = model.policy.optimizer
    numel = spy.seen[0].numel()
    noise = replay(probe.states["policy.optimizer"], numel, [sigma(1.0, t) for t in range(4)])
    for raw, clean, seen, drawn in zip(spy.raw, spy.clean, spy.seen, noise, strict=True):
        noisy = raw + drawn
        expected = noisy * min(1.0, 0.5 / (float(noisy.norm()) + 1e-6))
        torch.testing.assert_close(seen, clean)  # nothing is added at step time
        torch.testing.assert_close(seen, expected, rtol=1e-5, atol=1e-6)
        assert float(seen.norm()) <= 0.5 + 1e-5
    assert callback.n_updates == 4


def test_shared_clock_drives_the_schedule_with_num_timesteps() -> None:
    model = tiny_ppo()
    callback = GradientNoiseCallback(eta=1.0, seed=0)
    probe = Probe(callback)
    model.learn(128, callback=[NoiseScheduleCallback(), callback, probe])
    spy = model.policy.optimizer
    steps = [64, 64, 128, 128]  # each rollout's two updates read num_timesteps
    noise = replay(
        probe.states["policy.optimizer"], spy.seen[0].numel(), [sigma(1.0, t) for t in steps]
    )
    for clean, seen, drawn in zip(spy.clean, spy.seen, noise, strict=True):
        torch.testing.assert_close(seen - clean, drawn, rtol=0, atol=1e-6)
    assert callback.n_updates == 4  # the update count still counts updates


# -- every algorithm, hooks on and off ----------------------------------------------------

OFF_POLICY = dict(learning_starts=100, batch_size=32, buffer_size=1000, device="cpu", seed=0)
ALGORITHMS: dict[str, tuple[Any, list[str]]] = {
    "PPO": (
        lambda: PPO(
            "MlpPolicy",
            "CartPole-v1",
            n_steps=64,
            batch_size=32,
            n_epochs=2,
            policy_kwargs=dict(net_arch=[32]),
            device="cpu",
            seed=0,
        ),
        ["policy.optimizer"],
    ),
    "A2C": (
        lambda: A2C(
            "MlpPolicy",
            "CartPole-v1",
            n_steps=8,
            policy_kwargs=dict(net_arch=[32]),
            device="cpu",
            seed=0,
        ),
        ["policy.optimizer"],
    ),
    "DQN": (
        lambda: DQN(
            "MlpPolicy",
            "CartPole-v1",
            train_freq=4,
            policy_kwargs=dict(net_arch=[32]),
            **OFF_POLICY,
        ),
        ["policy.optimizer"],
    ),
    "QRDQN": (
        lambda: QRDQN(
            "MlpPolicy",
            "CartPole-v1",
            train_freq=4,
            policy_kwargs=dict(net_arch=[32], n_quantiles=8),
            **OFF_POLICY,
        ),
        ["policy.optimizer"],
    ),
    "SAC": (
        lambda: SAC("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=[32]), **OFF_POLICY),
        ["actor.optimizer", "critic.optimizer", "ent_coef_optimizer"],
    ),
    "TQC": (
        lambda: TQC(
            "MlpPolicy",
            "Pendulum-v1",
            policy_kwargs=dict(net_arch=[32], n_quantiles=5, n_critics=2),
            **OFF_POLICY,
        ),
        ["actor.optimizer", "critic.optimizer", "ent_coef_optimizer"],
    ),
    "TD3": (
        lambda: TD3("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=[32]), **OFF_POLICY),
        ["actor.optimizer", "critic.optimizer"],
    ),
    "DDPG": (
        lambda: DDPG("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=[32]), **OFF_POLICY),
        ["actor.optimizer", "critic.optimizer"],
    ),
}


def hook_counts(model: Any) -> dict[str, int]:
    counts = {name: len(opt._optimizer_step_pre_hooks) for name, opt in find_optimizers(model)}
    params = [p for _, opt in find_optimizers(model) for g in opt.param_groups for p in g["params"]]
    counts["params"] = sum(len(p._post_accumulate_grad_hooks or {}) for p in params)
    return counts


def expected_updates(model: Any, name: str) -> int:
    """Optimizer steps the algorithm took, from its own update counter."""
    if isinstance(model, PPO):
        return model._n_updates * (model.n_steps // model.batch_size)
    if isinstance(model, TD3) and name == "actor.optimizer":
        return model._n_updates // model.policy_delay
    return model._n_updates


CASES = [(name, "after_clip") for name in ALGORITHMS] + [
    (name, "before_clip")
    for name in ("PPO", "SAC", "TD3")  # one of each family
]


@pytest.mark.parametrize(("algorithm", "position"), CASES)
def test_every_algorithm_learns_with_noise_on_every_optimizer(
    algorithm: str, position: str
) -> None:
    make, names = ALGORITHMS[algorithm]
    model = make()
    before = hook_counts(model)
    callback = GradientNoiseCallback(eta=0.01, seed=0, position=position)
    probe = Probe(callback)
    model.learn(300, callback=[callback, probe])
    assert probe.names == names
    # During learn(): one step pre-hook more per optimizer (in both positions).
    assert all(count[n] == before[n] + 1 for count in probe.hook_counts for n in names)
    assert hook_counts(model) == before  # everything removed after learn()
    optimizers = dict(find_optimizers(model))
    for name in names:
        updates = optimizers[name].param_groups[0][UPDATE_COUNT_KEY]
        assert updates == expected_updates(model, name) > 0, name
    assert all(torch.isfinite(p).all() for p in model.policy.parameters())


def test_hooks_are_attached_once_over_two_learn_calls_and_the_count_continues() -> None:
    model = tiny_ppo()
    callback = GradientNoiseCallback(eta=1.0, seed=0)
    model.learn(128, callback=[callback, Probe(callback)])
    probe = Probe(callback)
    model.learn(128, callback=[callback, probe], reset_num_timesteps=False)
    # The recording SGD holds one step pre-hook of its own; the callback adds one, once.
    assert all(counts["policy.optimizer"] == 2 for counts in probe.hook_counts)
    assert callback.n_updates == 8
    spy = model.policy.optimizer
    noise = replay(
        probe.states["policy.optimizer"], spy.seen[0].numel(), [sigma(1.0, t) for t in range(4, 8)]
    )
    for clean, seen, drawn in zip(spy.clean[4:], spy.seen[4:], noise, strict=True):
        torch.testing.assert_close(seen - clean, drawn, rtol=0, atol=1e-6)
    assert hook_counts(model)["policy.optimizer"] == 1


def test_hooks_left_by_an_interrupted_learn_are_replaced_not_doubled() -> None:
    model = tiny_ppo()
    first = GradientNoiseCallback(seed=0)
    first.init_callback(model)
    first.on_training_start({}, {})  # as if learn() raised before on_training_end
    second = GradientNoiseCallback(seed=0)
    probe = Probe(second)
    with pytest.warns(RuntimeWarning, match="replaced, not doubled"):
        model.learn(64, callback=[second, probe])
    assert probe.hook_counts == [{"policy.optimizer": 2}]  # the recording SGD's + one
    assert hook_counts(model)["policy.optimizer"] == 1


def test_save_and_load_continue_the_schedule_from_the_saved_update_count(tmp_path: Any) -> None:
    model = tiny_ppo()
    first = GradientNoiseCallback(eta=1.0, seed=0)
    first_probe = Probe(first)
    model.learn(128, callback=[first, first_probe])
    model.save(tmp_path / "model")
    loaded = PPO.load(tmp_path / "model", env=model.get_env(), device="cpu")
    assert loaded.policy.optimizer.param_groups[0][UPDATE_COUNT_KEY] == 4
    second = GradientNoiseCallback(eta=1.0, seed=0)
    probe = Probe(second)
    loaded.learn(128, callback=[second, probe], reset_num_timesteps=False)
    assert second.n_updates == 8
    spy = loaded.policy.optimizer
    noise = replay(
        probe.states["policy.optimizer"], spy.seen[0].numel(), [sigma(1.0, t) for t in range(4, 8)]
    )
    for clean, seen, drawn in zip(spy.clean, spy.seen, noise, strict=True):
        torch.testing.assert_close(seen - clean, drawn, rtol=0, atol=1e-6)
    # Same seed, later start: a fresh stream, not a replay of updates 0..3.
    assert not torch.equal(probe.states["policy.optimizer"], first_probe.states["policy.optimizer"])


def test_where_selects_parameters_by_name() -> None:
    model = SAC("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=[16]), **OFF_POLICY)
    callback = GradientNoiseCallback(NoiseSpec.parse("gaussian:0.01,where=critic.*"), seed=0)
    probe = Probe(callback)
    model.learn(120, callback=[callback, probe])
    assert probe.names == ["critic.optimizer"]
    assert UPDATE_COUNT_KEY not in model.actor.optimizer.param_groups[0]
    assert model.critic.optimizer.param_groups[0][UPDATE_COUNT_KEY] == model._n_updates


def test_where_pattern_matching_nothing_names_the_parameters() -> None:
    model = tiny_ppo()
    callback = GradientNoiseCallback("gaussian:0.01,where=actor.*")
    with pytest.raises(ValueError, match=r"'actor\.\*' matches no parameter.*action_net\.weight"):
        model.learn(64, callback=callback)


def test_algorithm_without_optimizer_is_a_clear_error() -> None:
    model = ARS("LinearPolicy", "Pendulum-v1", n_delta=2, device="cpu", seed=0)
    with pytest.raises(ValueError, match="found no torch optimizer on ARS"):
        model.learn(200, callback=GradientNoiseCallback())


def test_logs_grad_std_and_update_count() -> None:
    model = tiny_ppo()
    capture = Capture()
    model.set_logger(Logger(folder=None, output_formats=[capture]))
    model.learn(192, callback=GradientNoiseCallback(eta=0.3, seed=0))
    # Dumped after each rollout, before its update: the count and the std the next update uses.
    updates = [values["noise/grad_updates"] for values in capture.dumps]
    stds = [values["noise/grad_std"] for values in capture.dumps]
    assert updates == [0, 2, 4]
    assert stds == pytest.approx([sigma(0.3, t) for t in updates])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(spec={"kind": "gaussian", "scale": [0.1, 0.2]}), "one scale for every parameter"),
        (dict(spec="gaussian:0.1,relative_to=std"), "relative_to must be null"),
        (dict(spec="gaussian:0.1,clip=space"), "clip='space' has no meaning"),
        (dict(spec="gaussian:0.1,phases=rollout"), "phases must include 'train'"),
        (dict(spec="gaussian:0.1,resample=episode"), "resample must be null or 'update'"),
        (dict(spec={"kind": "gaussian", "adaptive": 0.2}), "adaptive must be null"),
        (dict(spec="salt_pepper:0.1"), "needs values"),
        (dict(spec="gaussian:0.1", eta=0.3), "eta and gamma configure the default"),
        (dict(eta=-1.0), "eta must be >= 0.0"),
        (dict(position="after_step"), "position must be one of"),
        (dict(seed=1.5), "seed must be an integer"),
        (dict(spec="pink:0.1"), "kind must be one of"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GradientNoiseCallback(**kwargs)


@pytest.mark.parametrize("position", ["after_clip", "before_clip"])
def test_zero_noise_leaves_training_bit_identical_to_plain_sb3(position: str) -> None:
    # Hooks, counts and the owned generator must not touch anything else: no global RNG
    # draw, no change to the gradients, so a zero scale trains exactly like no callback.
    plain = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, device="cpu", seed=5)
    plain.learn(192)
    hooked = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, device="cpu", seed=5)
    hooked.learn(192, callback=GradientNoiseCallback("gaussian:0.0", seed=1, position=position))
    for a, b in zip(plain.policy.parameters(), hooked.policy.parameters(), strict=True):
        assert torch.equal(a, b)

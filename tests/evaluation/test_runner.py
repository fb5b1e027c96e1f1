"""The batched runner: exactness against SB3's predict, determinism, batching, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO, SAC

from rlnoise.evaluation import Condition, evaluate_robustness
from rlnoise.evaluation.perturbations import (
    DynamicsPerturbation,
    ObservationAttackPerturbation,
    ObservationNoisePerturbation,
    RandomActionPerturbation,
    StickyActionPerturbation,
    WeightNoisePerturbation,
)

from .helpers import predict_episodes

CARTPOLE = "CartPole-v1"


def run(model, conditions, n_episodes=6, seed=3, env=CARTPOLE, **kwargs):
    kwargs.setdefault("progress", False)
    kwargs.setdefault("device", "cpu")
    return evaluate_robustness(model, env, conditions, n_episodes=n_episodes, seed=seed, **kwargs)


MIXED = {
    "gaussian": [0.0, 0.1],
    "ou": {"levels": [0.3], "theta": 0.5},
    "random_action": [0.2],
    "sticky_action": {"levels": [0.3], "duration": [1, 3]},
    "weight_noise": {"gaussian": [0.05]},
    "pgd": {"levels": [0.05], "steps": 3, "random_start": True},
    "dynamics": {"attributes": {"length": [1.0]}},
}


@pytest.mark.parametrize("batch_size", [1, 4, 256])
def test_clean_episodes_equal_predict_one_episode_at_a_time(
    trained_cartpole: PPO, untrained_cartpole: PPO, batch_size: int
) -> None:
    # Several models and conditions share the batch; each clean episode must still be
    # exactly the episode model.predict plays alone from reset seed seed + k.
    report = run(
        {"trained": trained_cartpole, "untrained": untrained_cartpole},
        {"gaussian": [0.1]},
        batch_size=batch_size,
    )
    for r, model in enumerate((trained_cartpole, untrained_cartpole)):
        returns, lengths = predict_episodes(model, CARTPOLE, [3 + k for k in range(6)])
        assert report.returns[r, 0].tolist() == returns
        assert report.lengths[r, 0].tolist() == lengths


def test_dqn_clean_equals_predict() -> None:
    model = DQN("MlpPolicy", CARTPOLE, seed=2, device="cpu")
    report = run(model, ["clean"], n_episodes=5, seed=11)
    returns, lengths = predict_episodes(model, CARTPOLE, [11 + k for k in range(5)])
    assert report.returns[0, 0].tolist() == returns
    assert report.lengths[0, 0].tolist() == lengths


def test_continuous_actions_equal_predict() -> None:
    # Box actions go through the same clipping / unscaling as predict. Bit-identical
    # with one episode per forward (predict's batch of 1); larger batches change only
    # float32 BLAS rounding (the kernel depends on the batch size), hence the tolerance.
    model = SAC("MlpPolicy", "Pendulum-v1", seed=0, device="cpu")
    returns, lengths = predict_episodes(model, "Pendulum-v1", [0, 1, 2])
    alone = run(model, ["clean"], n_episodes=3, seed=0, env="Pendulum-v1", batch_size=1)
    assert alone.returns[0, 0].tolist() == returns
    batched = run(model, ["clean"], n_episodes=3, seed=0, env="Pendulum-v1", batch_size=8)
    np.testing.assert_allclose(batched.returns[0, 0], returns, rtol=1e-6)
    assert batched.lengths[0, 0].tolist() == lengths


def test_same_seed_same_report_and_batch_size_does_not_matter(untrained_cartpole: PPO) -> None:
    first = run(untrained_cartpole, MIXED, n_episodes=5, batch_size=256)
    again = run(untrained_cartpole, MIXED, n_episodes=5, batch_size=256)
    small = run(untrained_cartpole, MIXED, n_episodes=5, batch_size=3)
    one = run(untrained_cartpole, MIXED, n_episodes=5, batch_size=1)
    assert np.array_equal(first.returns, again.returns)
    assert first.summary(n_resamples=300) == again.summary(n_resamples=300)
    assert np.array_equal(first.returns, small.returns)
    assert np.array_equal(first.returns, one.returns)
    assert np.array_equal(first.lengths, one.lengths)
    other_seed = run(untrained_cartpole, MIXED, n_episodes=5, seed=4)
    assert not np.array_equal(first.returns, other_seed.returns)


def test_conditions_do_not_depend_on_their_neighbours(untrained_cartpole: PPO) -> None:
    full = run(untrained_cartpole, MIXED, n_episodes=4)
    alone = run(untrained_cartpole, {"clean": False, "sticky_action": MIXED["sticky_action"]}, 4)
    index = full.condition_index("sticky_action:0.3")
    assert np.array_equal(full.returns[0, index], alone.returns[0, 0])


def test_common_random_numbers(untrained_cartpole: PPO) -> None:
    # Every condition starts episode k from the same state: zero noise == clean exactly.
    report = run(untrained_cartpole, {"gaussian": [0.0], "weight_noise": {"gaussian": [0.0]}})
    assert np.array_equal(report.returns[0, 0], report.returns[0, 1])
    assert np.array_equal(report.returns[0, 0], report.returns[0, 2])


def test_each_episode_counted_once_whatever_its_length(untrained_cartpole: PPO) -> None:
    # Short and long episodes interleave in a 2-slot batch; every episode appears once,
    # at its index, with the length predict gives it.
    report = run(untrained_cartpole, ["clean"], n_episodes=9, batch_size=2)
    returns, lengths = predict_episodes(untrained_cartpole, CARTPOLE, [3 + k for k in range(9)])
    assert report.lengths[0, 0].tolist() == lengths
    assert report.returns[0, 0].tolist() == returns
    assert len(set(lengths)) > 3


def test_max_steps_caps_episodes(trained_cartpole: PPO) -> None:
    report = run(trained_cartpole, ["clean"], n_episodes=3, max_steps=25)
    assert report.lengths.tolist() == [[[25, 25, 25]]]
    assert report.returns.tolist() == [[[25.0, 25.0, 25.0]]]


def test_runs_by_conditions_by_episodes(trained_cartpole: PPO, untrained_cartpole: PPO) -> None:
    report = run(
        {"ppo": [trained_cartpole, untrained_cartpole], "other": untrained_cartpole},
        {"gaussian": [0.05]},
        n_episodes=3,
    )
    assert report.returns.shape == (3, 2, 3)
    assert report.groups == ["ppo", "other"]
    assert [r["name"] for r in report.runs] == ["ppo-0", "ppo-1", "other-0"]
    assert np.array_equal(report.returns[1], report.returns[2])  # same model, same numbers


def test_dynamics_changes_the_env(trained_cartpole: PPO) -> None:
    report = run(
        trained_cartpole,
        {"dynamics": {"attributes": {"length": [0.5, 3.0], "force_mag": [0.0]}}},
        n_episodes=4,
    )
    clean, same, longer, weak = report.returns[0]
    assert np.array_equal(clean, same)  # 0.5 is CartPole's own length
    assert not np.array_equal(clean, longer)
    assert weak.mean() < clean.mean()


def test_make_kwargs_dynamics_on_a_continuous_env() -> None:
    model = SAC("MlpPolicy", "Pendulum-v1", seed=0, device="cpu")
    grid = {"dynamics": {"make_kwargs": {"g": [10.0, 15.0]}}}
    report = run(model, grid, n_episodes=2, seed=0, env="Pendulum-v1")
    clean, default_g, strong_g = report.returns[0]
    assert np.array_equal(clean, default_g)  # g=10 is Pendulum's default
    assert not np.array_equal(clean, strong_g)


def test_cuda_requested_without_cuda_is_a_clear_error(untrained_cartpole: PPO) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA device"):
        run(untrained_cartpole, ["clean"], device="cuda")


class CountingResets(gym.Wrapper):
    resets = 0

    def reset(self, **kwargs):
        CountingResets.resets += 1
        return super().reset(**kwargs)


def counting_factory(**kwargs):
    return CountingResets(gym.make(CARTPOLE, **kwargs))


class DetachedExtractor(torch.nn.Module):
    """A features extractor that cuts the graph: the policy gives no input gradient."""

    def __init__(self, observation_space: gym.Space, features_dim: int = 4):
        super().__init__()
        self.features_dim = features_dim
        self.scale = torch.nn.Parameter(torch.ones(features_dim))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.detach() * self.scale


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([{"name": "x", "perturbations": [{"type": "gravity"}]}], "known types are"),
        ({"gaussain": [0.1]}, "unknown grid key"),
        ({"action_noise": {"gaussian": [0.1]}}, "action_noise needs a Box action space"),
        ({"weight_noise": {"gaussian": {"levels": [0.1], "where": ["nope.*"]}}}, "matches no"),
        ({"dynamics": {"attributes": {"lenght": [1.0]}}}, "has no attribute 'lenght'.*length"),
        ({"observation_noise": {"gaussian": {"levels": [0.1], "relative_to": "range"}}}, "finite"),
    ],
)
def test_bad_conditions_fail_before_any_episode(
    untrained_cartpole: PPO, conditions: object, message: str
) -> None:
    CountingResets.resets = 0
    with pytest.raises(ValueError, match=message):
        run(untrained_cartpole, conditions, env=counting_factory)
    assert CountingResets.resets == 0


def test_attack_without_gradient_fails_before_any_episode() -> None:
    model = PPO(
        "MlpPolicy",
        CARTPOLE,
        policy_kwargs={"features_extractor_class": DetachedExtractor},
        seed=0,
        device="cpu",
    )
    assert run(model, ["clean"], n_episodes=1).returns.shape == (1, 1, 1)  # clean runs
    CountingResets.resets = 0
    with pytest.raises(ValueError, match="no gradient"):
        run(model, {"fgsm": [0.1]}, env=counting_factory)
    assert CountingResets.resets == 0


def test_unregistered_env_and_space_mismatch(untrained_cartpole: PPO) -> None:
    with pytest.raises(ValueError, match="env id 'CartPole-v99' is not registered"):
        run(untrained_cartpole, ["clean"], env="CartPole-v99")
    with pytest.raises(ValueError, match="expects the observation space Box"):
        run(untrained_cartpole, ["clean"], env="MountainCar-v0")
    with pytest.raises(ValueError, match="n_episodes must be >= 1"):
        run(untrained_cartpole, ["clean"], n_episodes=0)


def test_model_trained_behind_a_widening_noise_wrapper_evaluates_on_the_clean_env() -> None:
    from rlnoise.wrappers import ObservationNoise

    noisy = ObservationNoise(gym.make(CARTPOLE), "gaussian:0.1")
    assert np.isinf(noisy.observation_space.high).all()  # widened honestly
    model = PPO("MlpPolicy", noisy, seed=0, device="cpu")
    report = run(model, ["clean"], n_episodes=2)
    assert report.returns.shape == (1, 1, 2)
    narrower = PPO("MlpPolicy", gym.make(CARTPOLE), seed=0, device="cpu")
    wide_env = lambda **kwargs: ObservationNoise(gym.make(CARTPOLE, **kwargs), "gaussian:0.1")  # noqa: E731
    with pytest.raises(ValueError, match="expects the observation space"):
        run(narrower, ["clean"], env=wide_env)


def test_explicit_condition_objects(untrained_cartpole: PPO) -> None:
    combined = Condition(
        "heavy and noisy",
        (
            DynamicsPerturbation(attributes={"masscart": 3.0}),
            ObservationNoisePerturbation("laplace:0.05"),
            RandomActionPerturbation(0.1),
            StickyActionPerturbation(0.2),
            WeightNoisePerturbation("gaussian:0.02"),
            ObservationAttackPerturbation("fgsm", 0.01),
        ),
    )
    report = run(untrained_cartpole, [Condition.clean(), combined], n_episodes=3)
    assert report.condition_names == ["clean", "heavy and noisy"]
    assert (report.lengths > 0).all()


def test_a_perturbation_listed_twice_is_two_sources(untrained_cartpole: PPO) -> None:
    from rlnoise.evaluation.cells import Cell
    from rlnoise.evaluation.policy import PolicyAdapter

    noise = ObservationNoisePerturbation("gaussian:0.1")
    adapter = PolicyAdapter(untrained_cartpole.policy)
    cell = Cell(0, 0, Condition("twice", (noise, noise)), adapter, 4, seed=0, n_lanes=4)
    rows = np.zeros((4, 4), dtype=np.float32)
    first, second = (injector.perturb(rows) for injector in cell.pipeline.raw)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("noisy", [False, True])
def test_policy_copy_for_another_device_works_after_training(noisy: bool) -> None:
    # copy.deepcopy fails on a trained SB3 policy (it references autograd tensors of the last
    # update); the runner copies policies to the evaluation device as SB3's load does.
    from rlnoise.evaluation.setup import policy_copy_on
    from rlnoise.policies import NoisyActorCriticPolicy

    policy_class = NoisyActorCriticPolicy if noisy else "MlpPolicy"
    model = PPO(policy_class, CARTPOLE, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    clone = policy_copy_on(model.policy, torch.device("cpu"))
    assert clone is not model.policy and type(clone) is type(model.policy)
    obs = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    np.testing.assert_array_equal(
        clone.predict(obs, deterministic=True)[0], model.policy.predict(obs, deterministic=True)[0]
    )


def test_saved_runs_are_named_after_their_folder(
    untrained_cartpole: PPO, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "seed_3").mkdir()
    untrained_cartpole.save(tmp_path / "seed_3" / "model.zip")
    untrained_cartpole.save(tmp_path / "model.zip")
    monkeypatch.chdir(tmp_path)
    report = run(["seed_3/model.zip", "model.zip"], {"clean": True}, n_episodes=1)
    # A bare model.zip in the current directory takes that directory's name, never "".
    assert [r["name"] for r in report.runs] == ["seed_3", tmp_path.name]


class TinyImages(gym.Env):
    """Random 36x36x3 uint8 frames (the smallest NatureCNN accepts), five steps, reward = action."""

    observation_space = gym.spaces.Box(0, 255, (36, 36, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.integers(0, 256, (36, 36, 3), dtype=np.uint8), {}

    def step(self, action):
        self.t += 1
        frame = self.np_random.integers(0, 256, (36, 36, 3), dtype=np.uint8)
        return frame, float(action), self.t >= 5, False, {}


def test_weight_noise_on_a_shared_cnn_extractor_leaves_the_callers_model_intact() -> None:
    # PPO's CnnPolicy shares one features extractor under three names; functional_call with
    # tied weights used to leave vmapped tensors in it, breaking this and every later forward.
    model = PPO("CnnPolicy", TinyImages(), n_steps=16, batch_size=16, seed=0, device="cpu")
    obs = TinyImages().reset(seed=0)[0]
    expected = model.predict(obs, deterministic=True)[0]
    grid = {"weight_noise": {"gaussian": [0.0, 0.05]}, "random_action": [0.5]}
    report = run(model, grid, n_episodes=3, env=TinyImages)
    np.testing.assert_array_equal(report.returns[0, 1], report.returns[0, 0])  # scale 0 = clean
    assert all(isinstance(p, torch.nn.Parameter) for p in model.policy.parameters())
    assert model.predict(obs, deterministic=True)[0] == expected


def test_a_model_run_without_digest_is_not_confused_with_another_on_resume(tmp_path) -> None:
    from rlnoise.evaluation import ModelRun

    short = PPO("MlpPolicy", CARTPOLE, seed=9, device="cpu")
    other = PPO("MlpPolicy", CARTPOLE, seed=1, device="cpu")
    run(ModelRun("a", "g", short), ["clean"], resume_dir=tmp_path)
    given = ModelRun("a", "g", other)
    resumed = run(given, ["clean"], resume_dir=tmp_path)
    assert resumed.metadata["resume"]["reused_cells"] == 0
    np.testing.assert_array_equal(resumed.returns, run(other, ["clean"]).returns)
    assert given.digest == ""  # the caller's ModelRun is not modified


def test_vecnormalize_statistics_of_another_env_fail_before_any_episode() -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from rlnoise.evaluation import ModelRun

    acrobot_stats = VecNormalize(DummyVecEnv([lambda: gym.make("Acrobot-v1")]))
    model = PPO("MlpPolicy", CARTPOLE, seed=0, device="cpu")
    CountingResets.resets = 0
    with pytest.raises(ValueError, match=r"VecNormalize statistics have shape \(6,\)"):
        run(ModelRun("m", "g", model, vec_normalize=acrobot_stats), ["clean"], env=counting_factory)
    assert CountingResets.resets == 0


@pytest.mark.parametrize(
    ("models", "conditions", "kwargs", "message"),
    [
        (None, 3, {}, "conditions must be a list"),
        (None, None, {}, "conditions must be a list"),
        ({}, ["clean"], {}, "model_or_models is an empty mapping"),
        (None, ["clean"], {"device": None}, "device must be 'auto'"),
        (None, ["clean"], {"make_kwargs": 3}, "make_kwargs must be a mapping"),
        (None, ["clean"], {"seed": 1.5}, "seed must be an integer, got 1.5"),
        (None, {"gaussian": [-0.1]}, {}, r"grid\.gaussian level -0\.1: scale must be >= 0"),
    ],
)
def test_wrong_inputs_are_value_errors_before_any_episode(
    untrained_cartpole: PPO, models: object, conditions: object, kwargs: dict, message: str
) -> None:
    CountingResets.resets = 0
    with pytest.raises(ValueError, match=message):
        run(untrained_cartpole if models is None else models, conditions, env=counting_factory,
            **kwargs)  # fmt: skip
    assert CountingResets.resets == 0


def test_a_resume_dir_that_is_a_file_fails_before_any_episode(
    untrained_cartpole: PPO, tmp_path
) -> None:
    path = tmp_path / "cells"
    path.write_text("")
    CountingResets.resets = 0
    with pytest.raises(ValueError, match=r"resume_dir .* is a file"):
        run(untrained_cartpole, ["clean"], env=counting_factory, resume_dir=path)
    assert CountingResets.resets == 0


def test_a_named_grid_is_accepted_like_the_cli(untrained_cartpole: PPO) -> None:
    report = run(untrained_cartpole, "quick", n_episodes=1)
    assert "dynamics:length=1.0" in report.condition_names  # the CartPole entry, not Pendulum's


def test_random_reference_is_the_uniform_policy_on_the_same_episodes(
    trained_cartpole: PPO, untrained_cartpole: PPO
) -> None:
    # The reference plays random_action:1.0 (every action a uniform draw from the
    # evaluation's own seeded generators) from the same reset seeds as every condition:
    # it equals that condition for any model, and does not depend on the batch.
    grid = {"random_action": [1.0]}
    models = {"trained": trained_cartpole, "untrained": untrained_cartpole}
    wide = run(models, grid, n_episodes=8, batch_size=256)
    narrow = run(models, grid, n_episodes=8, batch_size=1)
    reference = wide.reference
    assert reference.kind == "uniform_random" and reference.returns is not None
    index = wide.condition_index("random_action:1")
    for r in range(2):
        assert reference.returns.tolist() == wide.returns[r, index].tolist()
        assert reference.lengths.tolist() == wide.lengths[r, index].tolist()
    assert reference.returns.tolist() == narrow.reference.returns.tolist()
    assert reference.score == float(np.mean(np.sort(reference.returns)[2:6]))  # IQM of 8
    assert wide.returns[0, 0].min() > reference.returns.max()  # clean beats random


def test_a_given_reference_score_replaces_the_random_policy(untrained_cartpole: PPO) -> None:
    report = run(untrained_cartpole, {"gaussian": [0.1]}, n_episodes=4, reference_score=0.0)
    assert report.reference.kind == "given" and report.reference.returns is None
    clean, noisy = report.summary(n_resamples=100)
    assert noisy["iqm_normalised"] == pytest.approx(noisy["iqm"] / clean["iqm"], abs=1e-12)
    for bad in ("abc", float("nan"), True):
        CountingResets.resets = 0
        with pytest.raises(ValueError, match="reference_score must be"):
            run(untrained_cartpole, ["clean"], env=counting_factory, reference_score=bad)
        assert CountingResets.resets == 0


class WideActions(gym.ActionWrapper):
    """Pendulum behind a wider action space than its own (actions clipped to the real one)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.action_space = gym.spaces.Box(-10.0, 10.0, (1,), np.float32)

    def action(self, action):
        return np.clip(action, -2.0, 2.0)


def test_random_reference_samples_the_env_action_space() -> None:
    # A policy trained behind a wider action space is accepted on plain Pendulum; the
    # random policy still samples the env's own [-2, 2], so the reference is the same as
    # for a policy of the env's space (uniform on [-10, 10] would mostly hit the bounds).
    wide = PPO("MlpPolicy", WideActions(gym.make("Pendulum-v1")), seed=0, device="cpu")
    plain = PPO("MlpPolicy", "Pendulum-v1", seed=0, device="cpu")
    references = [
        run(model, ["clean"], n_episodes=3, env="Pendulum-v1", max_steps=50).reference
        for model in (wide, plain)
    ]
    assert references[0].returns.tolist() == references[1].returns.tolist()


class NaNEveryFourthStep(gym.ObservationWrapper):
    """CartPole whose every 4th step of an episode returns a NaN in the observation."""

    def reset(self, **kwargs):
        self.t = 0
        return super().reset(**kwargs)

    def step(self, action):
        self.t += 1
        return super().step(action)

    def observation(self, observation):
        if self.t > 0 and self.t % 4 == 0:
            observation = observation.copy()
            observation[2] = np.nan
        return observation


def test_nonfinite_observations_are_counted_per_cell_and_warned_once(
    untrained_cartpole: PPO, tmp_path
) -> None:
    def make(**kwargs):
        return NaNEveryFourthStep(gym.make(CARTPOLE, **kwargs))

    grid = {"gaussian": [0.1], "dynamics": {"attributes": {"length": [1.0]}}}
    with pytest.warns(RuntimeWarning, match="observations with NaN or infinite values") as caught:
        report = run(untrained_cartpole, grid, env=make, resume_dir=tmp_path)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    expected = (report.lengths // 4).sum(axis=2)  # every 4th step of each episode
    assert report.nonfinite_observations.tolist() == expected.tolist()
    assert (expected > 0).all()
    rows = report.summary(n_resamples=50)
    assert [row["nonfinite_observations"] for row in rows] == expected[0].tolist()
    # Such cells are not cached: a rerun measures (and counts) them again.
    again = run(untrained_cartpole, grid, env=make, resume_dir=tmp_path)
    assert again.metadata["resume"]["reused_cells"] == 0
    assert again.nonfinite_observations.tolist() == expected.tolist()
    clean = run(untrained_cartpole, grid)
    assert clean.nonfinite_observations.tolist() == [[0, 0, 0]]

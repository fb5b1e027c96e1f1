"""Record every injector's draws for fixed seeds, and compare two recordings exactly.

A refactor of the noise engine must not change a single draw. This script
drives each injection point with fixed seeds — core streams and one-shot
draws (numpy and torch), the env wrappers (single, Gymnasium vector, SB3
VecEnv; terminal observations, held draws, stateful kinds), weight,
activation and parameter noise, NoisyNet layers, gradient noise, and short
trainings of the noisy policies — and stores what came out. Run it on two
source trees and compare:

    PYTHONPATH=/path/to/old python scripts/check_draws.py record old.npz
    PYTHONPATH=/path/to/new python scripts/check_draws.py record new.npz
    python scripts/check_draws.py compare old.npz new.npz

``compare`` exits 1 and names each entry whose arrays differ (values or dtype).
Entries present in only one file are listed, not failed: a case added later
has nothing to compare against.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

Recorder = dict[str, np.ndarray]
CASES: list[tuple[str, Callable[[Recorder], None]]] = []


def case(fn: Callable[[Recorder], None]) -> Callable[[Recorder], None]:
    CASES.append((fn.__name__, fn))
    return fn


def arr(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    return np.array(value, copy=True)


STREAM_SPECS = [
    "gaussian:0.3",
    "uniform:0.2,mode=multiplicative",
    "laplace:0.1",
    "ou:0.4,theta=0.5,dt=0.1",
    "colored:0.5,beta=1.0,length=64",
    "colored:0.5,beta=2.0,length=50",
    "salt_pepper:0.2,values=-3+3",
    "dropout:0.3,rescale=true",
    "dropout:0.3",
    "gaussian:1.0,clip=-0.5+0.5",
    "uniform:0.5,mode=multiplicative,clip=-1+1",
    "gaussian:1.0,schedule=annealed",
]


@case
def core_streams(out: Recorder) -> None:
    from rlnoise import NoiseSpec, NoiseStream

    linear = NoiseSpec.from_dict(
        {"kind": "gaussian", "scale": 0.5, "schedule": {"type": "linear", "steps": 100}}
    )
    for index, text in enumerate([*STREAM_SPECS, linear]):
        spec = NoiseSpec.parse(text) if isinstance(text, str) else text
        key = f"stream{index}"
        # unbatched, joint batch, per-row batch (with a mid-run reseed of two rows)
        single = NoiseStream(spec, (3,), np.random.default_rng(index), dtype=np.float32)
        out[f"{key}/single"] = np.stack([arr(single.sample()) for _ in range(300)])
        joint = NoiseStream(spec, (2,), np.random.default_rng(100 + index), n_rows=4)
        x = np.linspace(-2, 2, 8).reshape(4, 2)
        out[f"{key}/joint"] = np.stack([arr(joint.perturb(x)) for _ in range(280)])
        rows = NoiseStream(spec, (2,), [np.random.default_rng(200 + r) for r in range(3)])
        values = [arr(rows.perturb(np.ones((3, 2), np.float32))) for _ in range(100)]
        rows.reset([0, 2], [np.random.default_rng(7), np.random.default_rng(8)])
        values += [arr(rows.perturb(np.ones((3, 2), np.float32))) for _ in range(200)]
        rows.reset([1])
        values += [arr(rows.sample()) for _ in range(50)]
        out[f"{key}/rows"] = np.stack(values)
        # torch joint stream
        stream = NoiseStream(spec, (5,), torch.Generator().manual_seed(index), n_rows=2)
        values = [arr(stream.perturb(torch.ones(2, 5))) for _ in range(270)]
        stream.reset([1])
        values += [arr(stream.sample()) for _ in range(20)]
        out[f"{key}/torch"] = np.stack(values)
    ranged = NoiseStream(
        "uniform:0.1,relative_to=range", (2,), np.random.default_rng(1), low=[-1, 0], high=[1, 5]
    )
    out["stream/range"] = np.stack([arr(ranged.perturb(np.zeros(2))) for _ in range(20)])
    impulse = NoiseStream("salt_pepper:0.3", (4,), np.random.default_rng(1), low=-1, high=2)
    out["stream/impulse"] = np.stack([arr(impulse.perturb(np.zeros(4))) for _ in range(30)])
    scaled = NoiseStream(
        "ou:1.0", (2,), np.random.default_rng(3), n_rows=3, scale=[[0.1], [0.2], [0.3]]
    )
    out["stream/override"] = np.stack([arr(scaled.sample()) for _ in range(30)])
    scaled.set_scale(0.5)
    out["stream/set_scale"] = np.stack([arr(scaled.sample()) for _ in range(30)])


@case
def core_one_shot(out: Recorder) -> None:
    from rlnoise import NoiseSpec
    from rlnoise.core.sampling import perturb, sample

    for index, text in enumerate(STREAM_SPECS):
        spec = NoiseSpec.parse(text)
        if spec.info.stateful:
            continue
        rng = np.random.default_rng(index)
        out[f"oneshot{index}/numpy"] = np.stack(
            [arr(sample(spec, rng, (3, 4), dtype=np.float32, t=k)) for k in range(5)]
            + [arr(perturb(spec, np.full((3, 4), 0.5), rng, t=k)) for k in range(5)]
        )
        generator = torch.Generator().manual_seed(index)
        out[f"oneshot{index}/torch"] = np.stack(
            [arr(sample(spec, generator, (3, 4), t=k)) for k in range(5)]
            + [arr(perturb(spec, torch.full((3, 4), 0.5), generator, t=k)) for k in range(5)]
        )


def _run_env(env: gym.Env, steps: int, seed: int, actions: Callable[[int], Any]) -> np.ndarray:
    rows = []
    obs, _ = env.reset(seed=seed)
    rows.append(np.asarray(obs, dtype=np.float64).ravel())
    for k in range(steps):
        obs, reward, terminated, truncated, _ = env.step(actions(k))
        rows.append(np.append(np.asarray(obs, dtype=np.float64).ravel(), reward))
        if terminated or truncated:
            obs, _ = env.reset() if k % 2 else env.reset(seed=seed + k)
            rows.append(np.asarray(obs, dtype=np.float64).ravel())
    return np.concatenate(rows)


OBS_SPECS = [
    "gaussian:0.1",
    "uniform:0.05,clip=space",
    "ou:0.3,theta=0.5",
    "colored:0.2,length=40",
    "laplace:0.1,mode=multiplicative",
    "gaussian:0.2,resample=episode",
    "uniform:0.2,resample=7",
    "dropout:0.2",
    "salt_pepper:0.1,values=-1+1",
]


@case
def wrappers_single(out: Recorder) -> None:
    from rlnoise.wrappers import ActionNoise, ObservationNoise, RandomActionReplacement

    flip = np.random.default_rng(0).integers(0, 2, 2000)
    for index, spec in enumerate(OBS_SPECS):
        env = ObservationNoise(gym.make("CartPole-v1"), spec)
        out[f"obs{index}"] = _run_env(env, 400, 3, lambda k: int(flip[k]))
    scheduled = ObservationNoise(
        gym.make("CartPole-v1"),
        {"kind": "gaussian", "scale": 0.5, "schedule": {"type": "linear", "steps": 300}},
    )
    out["obs/scheduled"] = _run_env(scheduled, 300, 4, lambda k: int(flip[k]))
    from rlnoise.envs.pixels import CartPolePixels

    for index, spec in enumerate(["gaussian:30", "salt_pepper:0.1", "uniform:20,resample=4"]):
        image = ObservationNoise(CartPolePixels(gym.make("CartPole-v1"), size=36), spec)
        image_obs = [image.reset(seed=1)[0]]
        image_obs += [image.step(int(flip[k]))[0] for k in range(30)]
        out[f"obs/image{index}"] = np.stack(image_obs)
    timed = gym.wrappers.TimeAwareObservation(gym.make("CartPole-v1"), flatten=False)
    dict_env = ObservationNoise(timed, {"obs": "ou:0.2", "time": "uniform:1"})
    rows = [dict_env.reset(seed=2)[0]]
    rows += [dict_env.step(int(flip[k]))[0] for k in range(50)]
    out["obs/dict"] = np.stack([np.append(r["obs"], r["time"]) for r in rows])
    push = np.random.default_rng(1).uniform(-2, 2, (2000, 1)).astype(np.float32)
    for index, spec in enumerate(
        [
            "gaussian:0.5",
            "ou:0.5,theta=0.15,dt=0.05",
            "uniform:1",
            "uniform:0.1,relative_to=range,clip=space",
            "colored:0.3,length=30,resample=3",
        ]
    ):
        env = ActionNoise(gym.make("Pendulum-v1"), spec)
        out[f"action{index}"] = _run_env(env, 300, 5, lambda k: push[k])
    for index, kwargs in enumerate([{"probability": 0.3}, {"probability": 0.5}]):
        env = RandomActionReplacement(gym.make("CartPole-v1"), **kwargs)
        out[f"replace{index}"] = _run_env(env, 300, 6, lambda k: int(flip[k]))


@case
def wrappers_vector(out: Recorder) -> None:
    from gymnasium.vector import AutoresetMode
    from stable_baselines3.common.env_util import make_vec_env

    from rlnoise.wrappers import VecObservationNoise
    from rlnoise.wrappers.vector import ObservationNoise as VectorObservationNoise

    n = 4
    actions = np.random.default_rng(0).integers(0, 2, size=(400, n))
    specs: list[dict[str, Any]] = [{"spec": s} for s in OBS_SPECS]
    specs.append({"spec": "gaussian:1", "scale_per_env": [0.0, 0.1, 0.2, 0.4]})
    specs.append({"specs_per_env": ["ou:0.3", None, "gaussian:0.2", "ou:0.1"]})
    specs.append({"specs_per_env": ["uniform:0.2,resample=episode", None, None, "colored:0.1"]})
    for index, kwargs in enumerate(specs):
        venv = VecObservationNoise(make_vec_env("CartPole-v1", n_envs=n, seed=11), **kwargs)
        rows = [venv.reset()]
        for k in range(250):
            obs, _, dones, infos = venv.step(actions[k])
            rows.append(obs)
            for i in np.flatnonzero(dones):
                rows.append(infos[i]["terminal_observation"][None])
        out[f"vec{index}"] = np.concatenate(rows)
        for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            envs = gym.make_vec(
                "CartPole-v1",
                num_envs=n,
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": mode},
            )
            noisy = VectorObservationNoise(envs, **kwargs)
            rows = [noisy.reset(seed=9)[0]]
            for k in range(250):
                obs, _, _, _, infos = noisy.step(actions[k])
                rows.append(obs)
                if "_final_obs" in infos:
                    rows.extend(
                        infos["final_obs"][i][None] for i in np.flatnonzero(infos["_final_obs"])
                    )
            out[f"vector{index}/{mode.value}"] = np.concatenate(rows)


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, 2),
    )  # fmt: skip


WEIGHT_SPECS = [
    "gaussian:0.1",
    "uniform:0.1,mode=multiplicative",
    "laplace:0.05,clip=-0.3+0.3",
    "dropout:0.2",
    "dropout:0.2,rescale=true",
    "gaussian:0.2,relative_to=std",
    "gaussian:0.1,resample=step",
    "gaussian:0.1,schedule=annealed",
]


@case
def nn_weight_activation(out: Recorder) -> None:
    from rlnoise.nn import ActivationNoise, NoiseControl, WeightNoise

    x = torch.linspace(-1, 1, 24).reshape(6, 4)
    for index, spec in enumerate(WEIGHT_SPECS):
        net = _net(index)
        control = NoiseControl()
        control.set_training(True)
        noise = WeightNoise(
            net, spec, control=control, names=["0.weight", "0.bias", "2.weight"], seed=index
        )
        values = []
        for k in range(300):
            if k % 50 == 0:
                control.emit("step")
            control.set_step(k)
            values.append(arr(net(x)))
        out[f"weight{index}"] = np.stack(values)
        x.requires_grad_(True)
        loss = net(x).square().sum()
        loss.backward()
        out[f"weight{index}/grad"] = arr(net[0].weight.grad)
        x = x.detach()
        del noise
    for index, spec in enumerate(
        [
            "gaussian:0.1",
            "uniform:0.1,mode=multiplicative",
            "dropout:0.3",
            "dropout:0.3,rescale=true",
            "salt_pepper:0.1,values=-1+1",
            "laplace:0.2,clip=-1+1",
            "gaussian:0.1,schedule=annealed",
        ]
    ):
        net = _net(10 + index)
        control = NoiseControl()
        control.set_training(True)
        ActivationNoise(net, spec, control=control, names=["1", "3"], seed=index)
        values = []
        for k in range(100):
            control.set_step(k)
            values.append(arr(net(x)))
        out[f"activation{index}"] = np.stack(values)


@case
def nn_noisy_and_param(out: Recorder) -> None:
    from rlnoise.nn import NoiseControl, NoisyLinear, NoisyNet, NoisyNetConfig, ParameterNoise

    x = torch.linspace(-1, 1, 20).reshape(4, 5)
    for factorised in (True, False):
        for bias in (True, False):
            layer = NoisyLinear(5, 3, bias=bias, factorised=factorised, seed=3)
            values = []
            for k in range(300):
                layer.reset_noise(lazy=bool(k % 2))
                values.append(arr(layer(x)))
            out[f"noisy_linear/{factorised}/{bias}"] = np.stack(values)
    net = _net(20)
    control = NoiseControl()
    NoisyNet(
        net, NoisyNetConfig(), control=control, seed=4, groups={"online": ["0", "2", "4"]},
        rules={"online": ["step"]}, default_phases=("rollout",),
    )  # fmt: skip
    control.begin_acting()
    values = []
    for _ in range(50):
        control.emit("step")
        values.append(arr(net(x[:, :4])))
    out["noisy_net"] = np.stack(values)
    actor = torch.nn.Sequential(
        torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2), torch.nn.Tanh()
    )
    torch.manual_seed(0)
    for p in actor.parameters():
        torch.nn.init.normal_(p, 0, 0.3)
    control = NoiseControl()
    noise = ParameterNoise(
        actor, "gaussian:0.5,adaptive=0.01", control=control, names=["0.weight", "2.weight"],
        seed=0, output_fn=actor, distance="rms", recorder=actor, adapt_every=1,
    )  # fmt: skip
    observations = torch.linspace(-1, 1, 12).reshape(4, 3)
    values = []
    for _ in range(20):
        control.begin_acting()
        values.append(arr(actor(observations)))
        control.emit("episode")
    out["param_noise"] = np.stack(values)
    out["param_noise/sigma"] = np.array([noise.sigma])


def _params(model: Any) -> np.ndarray:
    return np.concatenate([arr(p).ravel() for p in model.policy.parameters()])


@case
def callbacks_gradient(out: Recorder) -> None:
    from stable_baselines3 import PPO, SAC

    from rlnoise.callbacks import GradientNoiseCallback

    def ppo() -> Any:
        return PPO(
            "MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, n_epochs=2, device="cpu",
            seed=0,
        )  # fmt: skip

    for index, kwargs in enumerate(
        [
            {"eta": 0.3},
            {"eta": 0.3, "position": "before_clip"},
            {"spec": "uniform:0.05"},
            {"spec": "dropout:0.1"},
            {"spec": "ou:0.1,theta=0.5,dt=0.1"},
            {"spec": "gaussian:0.01,mode=multiplicative,clip=-1+1"},
            {"spec": "salt_pepper:0.01,values=-0.1+0.1", "position": "before_clip"},
        ]
    ):
        model = ppo()
        model.learn(192, callback=GradientNoiseCallback(seed=1, **kwargs))
        out[f"gradient{index}"] = _params(model)
    model = SAC("MlpPolicy", "Pendulum-v1", learning_starts=50, device="cpu", seed=0)
    model.learn(80, callback=GradientNoiseCallback(eta=0.1, seed=2))
    out["gradient/sac"] = _params(model)


@case
def policies(out: Recorder) -> None:
    from stable_baselines3 import DQN, PPO, SAC

    from rlnoise.policies import NoisyActorCriticPolicy, NoisyDQNPolicy, NoisySACPolicy

    for index, kwargs in enumerate(
        [
            {},
            {"noisy_net": True},
            {"weight_noise": "gaussian:0.05,resample=rollout", "activation_noise": None},
            {"activation_noise": "dropout:0.1", "weight_noise": "uniform:0.02"},
        ]
    ):
        model = PPO(
            NoisyActorCriticPolicy, "CartPole-v1", n_steps=64, batch_size=32, n_epochs=2,
            policy_kwargs=kwargs, device="cpu", seed=0,
        )  # fmt: skip
        model.learn(192)
        out[f"ppo{index}"] = _params(model)
    model = DQN(
        NoisyDQNPolicy, "CartPole-v1", learning_starts=32, train_freq=4, device="cpu", seed=0
    )
    model.learn(200)
    out["dqn"] = _params(model)
    model = SAC(NoisySACPolicy, "Pendulum-v1", learning_starts=50, device="cpu", seed=0)
    model.learn(100)
    out["sac"] = _params(model)


def record(path: str, only: list[str] | None) -> None:
    torch.set_num_threads(1)
    out: Recorder = {}
    for name, fn in CASES:
        if only and name not in only:
            continue
        fn(out)
        print(f"{name}: {sum(1 for k in out if k)} entries so far", flush=True)
    np.savez(path, **{key.replace("/", "|"): value for key, value in out.items()})


def compare(old_path: str, new_path: str) -> int:
    old, new = np.load(old_path), np.load(new_path)
    bad = 0
    for key in sorted(set(old.files) | set(new.files)):
        name = key.replace("|", "/")
        if key not in old.files or key not in new.files:
            print(f"only in {'new' if key in new.files else 'old'}: {name}")
            continue
        a, b = old[key], new[key]
        if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            bad += 1
            diff = (
                np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64)))
                if a.shape == b.shape
                else "shape"
            )
            print(f"DIFFERS: {name} ({a.dtype}{a.shape} vs {b.dtype}{b.shape}, max |diff| {diff})")
    total = len(set(old.files) & set(new.files))
    print(f"{total - bad} of {total} entries identical")
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record the draws of this tree")
    rec.add_argument("path")
    rec.add_argument("--only", nargs="*", help="case names (default: all)")
    cmp = sub.add_parser("compare", help="compare two recordings")
    cmp.add_argument("old")
    cmp.add_argument("new")
    args = parser.parse_args()
    if args.command == "record":
        record(args.path, args.only)
    else:
        sys.exit(compare(args.old, args.new))


if __name__ == "__main__":
    main()

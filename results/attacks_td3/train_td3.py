import os, sys, time
import numpy as np, torch
torch.set_num_threads(1)
from stable_baselines3 import TD3
from stable_baselines3.common.noise import NormalActionNoise
seed = int(sys.argv[1]); steps = int(sys.argv[2])
m = TD3("MlpPolicy", "InvertedPendulum-v5", seed=seed, device="cpu",
        action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1)))
t = time.time(); m.learn(steps)
m.save(f"/tmp/td3/seed{seed}.tmp.zip"); os.replace(f"/tmp/td3/seed{seed}.tmp.zip", f"/tmp/td3/seed{seed}.zip")
print(f"seed {seed}: {steps} steps in {time.time()-t:.0f} s", flush=True)

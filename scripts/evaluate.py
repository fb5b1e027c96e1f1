"""Evaluate saved SB3 models for robustness (the same code as ``rlnoise evaluate``).

Example:
    python scripts/evaluate.py --model runs/ppo/model.zip --env CartPole-v1 \
        --grid default --episodes 100 --seed 0 --out results/ppo
"""

from __future__ import annotations

import sys

import torch

from rlnoise.evaluation.cli import main

if __name__ == "__main__":
    torch.set_num_threads(1)  # small policies: one thread is fastest and leaves cores to envs
    sys.exit(main())

"""Shared test set-up: one torch thread per worker (tiny nets run faster; workers don't fight)."""

from __future__ import annotations

import os

import torch
from hypothesis import settings

# The `ray` marker's skip and the `ray_local` fixture.
pytest_plugins = ["tests.runs.ray_plugin"]

torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True)
settings.load_profile("ci")

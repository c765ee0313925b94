"""Sinusoid regression tasks (paper section 5.1; official ``generate_sinusoid_batch``):
y = amplitude * sin(x - phase), amplitude ~ U[0.1, 5], phase ~ U[0, pi], x ~ U[-5, 5]."""

from __future__ import annotations

import math

import numpy as np
import torch

from .episodes import Episodes

AMPLITUDE = (0.1, 5.0)  # range of the amplitude
PHASE = (0.0, math.pi)  # range of the phase
INPUT = (-5.0, 5.0)  # range of x


def sample_sinusoid(rng: np.random.Generator, tasks: int, shots: int, queries: int) -> Episodes:
    """``tasks`` sinusoids, each with ``shots`` support and ``queries`` query points."""
    amp = rng.uniform(*AMPLITUDE, size=(tasks, 1, 1))  # (T, 1, 1)
    phase = rng.uniform(*PHASE, size=(tasks, 1, 1))  # (T, 1, 1)
    x = rng.uniform(*INPUT, size=(tasks, shots + queries, 1))  # (T, K+Q, 1)
    y = amp * np.sin(x - phase)  # (T, K+Q, 1)
    xt = torch.from_numpy(x).to(torch.float32)
    yt = torch.from_numpy(y).to(torch.float32)
    return Episodes(xt[:, :shots], yt[:, :shots], xt[:, shots:], yt[:, shots:])

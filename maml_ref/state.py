"""The full state of a meta-training run, saved as it goes so that a run resumes exactly.

What a resumed run needs to continue as if it had never stopped: the parameters, Adam's moments
and step counts, the episode stream's generator state (and its position in a task pool), torch's
random generators, the iteration, the running meta-loss window, the latest query accuracy and the
validation curve so far. An interrupted-then-resumed run ends with the same parameters, bit for
bit on the CPU, as one that ran in one go (``tests/maml_ref/test_resume.py``).

The file is safetensors (the tensors) with a JSON header entry (everything else): nothing is
pickled, and reading it unpickles nothing. It is written atomically: a temporary file in the same
folder, flushed and fsync'ed, then ``os.replace`` over the old state and an fsync of the folder,
so a reader (or a worker killed mid-write) sees the previous state or the new one, never half.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor

from . import __version__

STATE_KEY = "maml_ref_state"  # key of the JSON part in the safetensors __metadata__ map
STATE_FORMAT = 1  # bumped when the layout changes; an older layout is refused, not guessed at
MAX_STATE_BYTES = 1 << 30  # far above any protocol's state (miniImageNet's is ~1.5 MB)
MAX_HEADER_BYTES = 8 << 20  # the JSON part holds the curve: 60,000 points would be ~1.5 MB


class StateError(ValueError):
    """A training-state file that cannot be resumed from; the message says why."""


@dataclass
class TrainState:
    """Everything ``train.meta_train`` needs to continue after ``iteration`` meta-updates."""

    protocol: str  # protocol name
    config: dict[str, Any]  # TrainConfig.to_dict() of the run that wrote it
    iteration: int  # meta-updates done
    params: dict[str, Tensor]  # float32, CPU
    optimizer: dict[str, dict[str, Tensor]]  # per parameter name: Adam's step, exp_avg, ...
    stream: dict[str, Any]  # EpisodeStream.state(): generator state and task-pool position
    torch_rng: Tensor  # torch.get_rng_state() (uint8)
    cuda_rng: list[Tensor] = field(default_factory=list)  # per CUDA device, if any was used
    losses: list[float] = field(default_factory=list)  # the running meta-loss window
    accuracy: float | None = None  # latest query accuracy (TrainProgress.query_accuracy)
    accuracy_at: int | None = None  # the iteration it was measured at
    validation: list[list[float]] = field(default_factory=list)  # [[iteration, value], ...]
    seconds: float = 0.0  # training wall time of every attempt before this one, summed

    def config_mismatch(self, config: dict[str, Any], protocol: str) -> str | None:
        """Why this state cannot continue ``config`` on ``protocol`` (None when it can). Every
        field must match but ``iterations``, which may grow (a longer run of the same recipe)."""
        if protocol != self.protocol:
            return f"it was saved by a {self.protocol} run, not {protocol}"
        ours = {k: v for k, v in self.config.items() if k != "iterations"}
        theirs = {k: v for k, v in config.items() if k != "iterations"}
        if ours != theirs:
            diff = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
            return "its training configuration differs in " + ", ".join(diff)
        if config.get("iterations", 0) < self.iteration:
            return f"it is at iteration {self.iteration}, past the run's {config.get('iterations')}"
        return None


def _tensors(state: TrainState) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for name, value in state.params.items():
        out[f"param/{name}"] = value.detach().to("cpu", torch.float32).contiguous()
    for name, slots in state.optimizer.items():
        for slot, value in slots.items():
            out[f"optim/{slot}/{name}"] = value.detach().to("cpu").contiguous()
    out["rng/torch"] = state.torch_rng.to("cpu", torch.uint8).contiguous()
    for i, value in enumerate(state.cuda_rng):
        out[f"rng/cuda/{i}"] = value.to("cpu", torch.uint8).contiguous()
    return out


def _json_part(state: TrainState) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT,
        "maml_ref_version": __version__,
        "protocol": state.protocol,
        "config": state.config,
        "iteration": state.iteration,
        "stream": state.stream,
        "losses": state.losses,
        "accuracy": state.accuracy,
        "accuracy_at": state.accuracy_at,
        "validation": state.validation,
        "seconds": state.seconds,
        "cuda_devices": len(state.cuda_rng),
    }


def save_state(path: str | Path, state: TrainState) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename, fsync the folder)."""
    path = Path(path)
    data = st_save(_tensors(state), metadata={STATE_KEY: json.dumps(_json_part(state))})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the rename is done anyway
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _number_or_none(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StateError(f"{what} is not a number")
    return float(value)


def load_state(path: str | Path) -> TrainState:
    """Read a state written by ``save_state``; StateError (a ValueError) for anything else."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_STATE_BYTES:
            raise StateError(f"{p.name} is {size} bytes, over {MAX_STATE_BYTES}")
        raw = p.read_bytes()
    except OSError as e:
        raise StateError(f"cannot read {p.name}: {e.strerror or e}") from None
    try:
        (n,) = struct.unpack("<Q", raw[:8])
        if not 2 <= n <= MAX_HEADER_BYTES or 8 + n > len(raw):
            raise ValueError("no safetensors header at its start")
        header = json.loads(raw[8 : 8 + n].decode("utf-8"))
        described = header.get("__metadata__") or {}
        if STATE_KEY not in described and "maml_ref" in described:
            raise StateError(
                f"{p.name} is a checkpoint (weights only), not a training state: resume from "
                "the .state file its run wrote beside it"
            )
        meta = json.loads(described[STATE_KEY])
        tensors = st_load(raw)
    except StateError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, struct.error, SafetensorError) as e:
        raise StateError(f"{p.name} is not a maml_ref training state ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise StateError(f"{p.name} has state format {found!r}; this maml_ref reads {STATE_FORMAT}")
    params: dict[str, Tensor] = {}
    optimizer: dict[str, dict[str, Tensor]] = {}
    cuda: dict[int, Tensor] = {}
    torch_rng = None
    for key, value in tensors.items():
        kind, _, rest = key.partition("/")
        if kind == "param":
            params[rest] = value
        elif kind == "optim":
            slot, _, name = rest.partition("/")
            optimizer.setdefault(name, {})[slot] = value
        elif key == "rng/torch":
            torch_rng = value
        elif rest.startswith("cuda/") and rest[5:].isdigit():
            cuda[int(rest[5:])] = value
        else:
            raise StateError(f"{p.name} holds an unexpected tensor {key!r}")
    try:
        iteration = int(meta["iteration"])
        config, stream = meta["config"], meta["stream"]
        losses = [float(x) for x in meta.get("losses") or []]
        validation = [[int(i), float(v)] for i, v in meta.get("validation") or []]
        protocol = str(meta["protocol"])
        seconds = float(meta.get("seconds") or 0.0)
    except (KeyError, TypeError, ValueError) as e:
        raise StateError(f"{p.name}: its description is incomplete ({e})") from None
    if not isinstance(config, dict) or not isinstance(stream, dict):
        raise StateError(f"{p.name}: its configuration or stream position is not an object")
    if torch_rng is None or not params or set(optimizer) - set(params):
        raise StateError(f"{p.name} lacks parameters, optimiser moments or the torch generator")
    accuracy_at = meta.get("accuracy_at")
    return TrainState(
        protocol=protocol,
        config=config,
        iteration=iteration,
        params=params,
        optimizer=optimizer,
        stream=stream,
        torch_rng=torch_rng,
        cuda_rng=[cuda[i] for i in sorted(cuda)],
        losses=losses,
        accuracy=_number_or_none(meta.get("accuracy"), "accuracy"),
        accuracy_at=None if accuracy_at is None else int(accuracy_at),
        validation=validation,
        seconds=seconds,
    )

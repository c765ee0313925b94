"""Which device a worker's runs use, and the line that says so when the worker starts.

``settings.MAML_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``) when set, else CUDA when this process
sees a CUDA device, else the CPU: a worker of the ``gpu`` queue on a machine with a GPU trains
there without being told. A device asked for but absent is refused at start (logged as an
error) and by every run (failed with the reason), never silently replaced by the CPU.
"""

from __future__ import annotations

import logging
import os

from django.conf import settings


class DeviceUnavailable(RuntimeError):
    """The configured device does not exist on this machine."""


def worker_device() -> str:
    """The device this worker's runs use, as a torch device string; DeviceUnavailable if the
    configured one is not present."""
    import torch

    wanted = (settings.MAML_DEVICE or "").strip()
    if not wanted:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(wanted)
    except (RuntimeError, ValueError):
        raise DeviceUnavailable(f"MAML_DEVICE={wanted!r} is not a torch device") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"MAML_DEVICE={wanted!r} but this machine has no CUDA device")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"MAML_DEVICE={wanted!r} but this machine has {torch.cuda.device_count()} "
                "CUDA device(s)"
            )
    return str(device)


def describe(device: str) -> str:
    """The device in words: the GPU's name and memory, or the CPU's cores and torch threads."""
    import torch

    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        return f"{device} ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    return f"cpu ({os.cpu_count() or '?'} cores, {torch.get_num_threads()} torch threads)"


def log_worker_device(logger: logging.Logger, queues: list[str]) -> str | None:
    """The start-up line of a worker: its queues and the device its runs will use."""
    served = ", ".join(queues) or "?"
    try:
        device = worker_device()
    except DeviceUnavailable as e:
        logger.error("worker for queue(s) %s: no usable device: %s", served, e)
        return None
    logger.info("worker for queue(s) %s: maml_ref runs on %s", served, describe(device))
    return device

"""Independent pieces of work (chunks of tasks or of episodes) spread over the CPU's cores.

On the CPU, running a few chunks side by side in threads of one intra-op thread each beats
spreading every (small) kernel of one chunk over all cores. Results come back in input order,
so whatever sums them does so in the same order on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")


def default_workers(device: torch.device | str) -> int:
    """Threads for chunked work: torch's thread count on the CPU, 1 on an accelerator."""
    return torch.get_num_threads() if torch.device(device).type == "cpu" else 1


@contextmanager
def threaded_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> Iterator[Iterator[R]]:
    """``fn`` over ``items``, results in order. With more than one worker and item, in
    ``min(workers, len(items))`` threads of one intra-op thread each; otherwise in the calling
    thread, unchanged. On leaving (also on an exception while consuming), items not started are
    dropped, running ones finish, and torch's thread setting is as it was."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 or len(items) <= 1:
        yield map(fn, items)
        return

    def one_thread(item: T) -> R:
        torch.set_num_threads(1)  # per thread under OpenMP: the workers share the cores
        return fn(item)

    threads = torch.get_num_threads()
    executor = ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="maml_ref")
    try:
        yield executor.map(one_thread, items)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads)  # what later threads start with, as it was

"""``maml_ref``'s command line called in this process: ``maml_ref.cli.main`` with the argument
list ``python -m maml_ref`` would get, its stdout and stderr captured, its exit status returned
(an argparse error's ``SystemExit`` included). A test that is about the command's parsing,
output and exit codes uses this and saves starting a Python and importing torch for each call;
a test about the process itself (the ``-m`` entry point, a signal) runs the subprocess."""

import contextlib
import io
import os
import subprocess

import torch

from maml_ref.cli import main


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m maml_ref *args``, in process, as a ``CompletedProcess`` (``env`` is added
    to the environment for the call only). torch's thread count, which ``--threads`` sets for
    the process, is put back afterwards."""
    out, err = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse: --help, a bad option
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        torch.set_num_threads(threads)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return subprocess.CompletedProcess(["maml_ref", *args], code, out.getvalue(), err.getvalue())

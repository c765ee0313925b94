"""The virtualenvs of the tools the suite drives in processes of their own, built once by
``.ci/tool_venvs.sh`` (``.ci/run`` calls it before the suite), never by a test.

Each is found through its variable (what the script prints), else at the cache path the script
builds it in (``$VERISOTA_CACHE_DIR`` or ``~/.cache/verisota``, a name from the content of the
file that defines it), and must pass the script's probe. Missing or broken: under ``CI=true``
the test fails; elsewhere it is skipped with a message naming the command that builds it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ".ci/tool_venvs.sh"


@dataclass(frozen=True)
class Tool:
    name: str  # the script's argument
    variable: str
    spec: str  # the file whose content names the cached venv
    folder: str  # under the cache root: "<folder>-<key>"
    probe: str

    def default_path(self) -> Path:
        root = Path(os.environ.get("VERISOTA_CACHE_DIR") or Path.home() / ".cache" / "verisota")
        key = hashlib.sha256((ROOT / self.spec).read_bytes()).hexdigest()[:12]
        return root / f"{self.folder}-{key}"

    def path(self) -> Path:
        return Path(os.environ.get(self.variable) or self.default_path())


PEERS = Tool(
    "peers",
    "VERISOTA_PEERS_VENV",
    "benchmarks/setup_peers.sh",
    "peers/venv",
    "import torch, higher, importlib.util as u; assert u.find_spec('learn2learn'); "
    "assert torch.__version__.startswith('2.13.0')",
)
PWC_CLIENT = Tool(
    "pwc-client",
    "VERISOTA_PWC_CLIENT_VENV",
    ".ci/venvs/pwc-client.txt",
    "tools/pwc-client",
    "import paperswithcode",
)
SOTA_EXTRACTOR = Tool(
    "sota-extractor",
    "VERISOTA_SOTA_EXTRACTOR_VENV",
    ".ci/venvs/sota-extractor.txt",
    "tools/sota-extractor",
    "import sota_extractor.taskdb",
)


def problem(tool: Tool) -> str | None:
    """Why ``tool``'s virtualenv cannot be used, or None."""
    python = tool.path() / "bin" / "python"
    if not python.exists():
        return f"no {tool.name} virtualenv at {tool.path()}"
    try:
        done = subprocess.run(
            [str(python), "-c", tool.probe], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the {tool.name} virtualenv at {tool.path()} does not run: {exc}"
    if done.returncode != 0:
        return f"the {tool.name} virtualenv at {tool.path()} fails its probe: {done.stderr[-500:]}"
    return None


def tool_python(tool: Tool) -> Path:
    """The tool's ``bin/python``; fails the test in CI, skips it elsewhere, when unusable."""
    why = problem(tool)
    if why:
        build = f'eval "$({SCRIPT} {tool.name})"'
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {why} ({SCRIPT}, run by .ci/run, builds it: {build})")
        pytest.skip(f"{why}; build it with: {build}")
    return tool.path() / "bin" / "python"

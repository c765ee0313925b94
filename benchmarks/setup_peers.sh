#!/usr/bin/env bash
# Installs the MAML peers (learn2learn 0.2.0, higher 0.2.1) into their own virtual environment
# for benchmarks/maml_speed.py, never into the project's: see ../shared/docs/PEERS.md.
# Usage: benchmarks/setup_peers.sh [VENV]   (default /tmp/maml-peers)
set -euo pipefail
VENV="${1:-/tmp/maml-peers}"
PY="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$PY" -m venv "$VENV"
PIP="$VENV/bin/pip"
echo "torch==2.13.0" > "$WORK/constraints.txt"   # never let pip swap torch for a CUDA build
"$PIP" install -q -c "$WORK/constraints.txt" torch==2.13.0 numpy==2.4.6 pillow==13.0.0 safetensors==0.8.0 tqdm cython
"$PIP" install -q -c "$WORK/constraints.txt" --no-deps higher==0.2.1

# learn2learn 0.2.0: sdist only, its pre-generated C files do not build on Python 3.11;
# regenerate them with Cython, and skip its dependencies (torchvision would pull CUDA).
# --no-binary learn2learn only: with :all: pip also builds Cython from source (20 minutes)
# just to read the metadata of what it would fetch.
"$PIP" download -q --no-deps --no-binary learn2learn learn2learn==0.2.0 -d "$WORK"
tar -xzf "$WORK"/learn2learn-0.2.0.tar.gz -C "$WORK"
sed -i 's/^use_cython = .*/use_cython = True/' "$WORK/learn2learn-0.2.0/setup.py"
grep -q '^use_cython = True' "$WORK/learn2learn-0.2.0/setup.py"
(cd "$WORK/learn2learn-0.2.0" && "$PIP" install -q -c "$WORK/constraints.txt" --no-build-isolation --no-deps .)
"$PIP" install -q -c "$WORK/constraints.txt" requests scipy
"$VENV/bin/python" -c "import torch, higher; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "peers installed in $VENV (import learn2learn's MAML by file path: see maml_speed.py)"

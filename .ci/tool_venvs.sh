#!/usr/bin/env bash
# The virtualenvs of the tools the suite drives in processes of their own (their pins clash with
# the project's), built once each and cached under a name from the content of what defines it
# (a changed pin list builds a new one): learn2learn 0.2.0 and higher (benchmarks/setup_peers.sh),
# paperswithcode-client 0.3.1 (.ci/venvs/pwc-client.txt), sota-extractor 0.0.29
# (.ci/venvs/sota-extractor.txt). Never installed by a test; a test finds each through the
# variable printed here, or the same cache path when the variable is unset (tests/tool_venvs.py).
#
# Usage: eval "$(.ci/tool_venvs.sh [TOOL...])"   TOOL: peers, pwc-client, sota-extractor (all
#        when none is named). Prints `export VAR=PATH` lines; the progress goes to stderr.
#        Cache root: $VERISOTA_CACHE_DIR, else ~/.cache/verisota. A failed or stalled build
#        exits non-zero (CI stops there).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${VERISOTA_CACHE_DIR:-$HOME/.cache/verisota}"
PY="${PYTHON:-python3}"

key() { sha256sum "$1" | cut -c1-12; }

# ensure VAR DIR PROBE BUILDER...: DIR's python passes PROBE, or BUILDER DIR.building is run
# and the result moved into place whole (an interrupted build never passes for a finished one).
ensure() {
  local var="$1" dir="$2" probe="$3"
  shift 3
  if ! "$dir/bin/python" -c "$probe" >/dev/null 2>&1; then
    local building="$dir.building-$$"  # of this build only: another may be running beside it
    echo "building $dir" >&2
    mkdir -p "$(dirname "$dir")"
    timeout 1200 bash -c '"$@"' _ "$@" "$building" >&2 || { echo "$0: building $dir failed" >&2; exit 1; }
    "$building/bin/python" -c "$probe" >&2 || { echo "$0: $dir fails: $probe" >&2; exit 1; }
    rm -rf "$dir"
    mv "$building" "$dir"  # bin/python links to the base interpreter: it survives the move
  fi
  echo "export $var=$(printf %q "$dir")"
}

# pip_venv BASE-PYTHON REQUIREMENTS [PIP-OPTION...] DIR
pip_venv() {
  local base="$1" reqs="$2"
  shift 2
  local dir="${*: -1}" opts=("${@:1:$#-1}")
  "$base" -m venv --clear "$dir"
  "$dir/bin/python" -m pip install -q "${opts[@]}" -r "$reqs"
}

export -f pip_venv  # run under timeout, by a bash of its own

PWC_BASE=/usr/bin/python3
[ -x "$PWC_BASE" ] || PWC_BASE="$PY"

TOOLS=("$@")
wanted() { [ "${#TOOLS[@]}" -eq 0 ] || [[ " ${TOOLS[*]} " == *" $1 "* ]]; }

if wanted peers; then
  ensure VERISOTA_PEERS_VENV "$CACHE/peers/venv-$(key benchmarks/setup_peers.sh)" \
    "import torch, higher, importlib.util as u; assert u.find_spec('learn2learn'); assert torch.__version__.startswith('2.13.0')" \
    bash benchmarks/setup_peers.sh
fi
if wanted pwc-client; then
  ensure VERISOTA_PWC_CLIENT_VENV "$CACHE/tools/pwc-client-$(key .ci/venvs/pwc-client.txt)" \
    "import paperswithcode" \
    pip_venv "$PWC_BASE" .ci/venvs/pwc-client.txt
fi
if wanted sota-extractor; then
  ensure VERISOTA_SOTA_EXTRACTOR_VENV "$CACHE/tools/sota-extractor-$(key .ci/venvs/sota-extractor.txt)" \
    "import sota_extractor.taskdb" \
    pip_venv "$PY" .ci/venvs/sota-extractor.txt --no-deps
fi

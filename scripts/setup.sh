#!/usr/bin/env bash
# Sets up a new machine: the compiler bits the Cython build needs, then .venv with feedhandler
# installed in place (editable, extensions compiled) plus its test and benchmark extras.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
python3 - <<'PY' || missing+=(python3-dev)
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]} from the distribution's packages"
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,bench]"

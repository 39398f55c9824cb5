#!/usr/bin/env bash
# Builds the extensions with AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer's
# coverage instrumentation into fuzz/.sanitized/ (a copy of the sources), leaving the normal
# in-place build untouched. fuzz/run.py --sanitized runs the harnesses against it.
#
# Needs clang (Debian: apt-get install clang-19; the ASan/UBSan/libFuzzer runtime used at run
# time is the one atheris ships, asan_with_fuzzer.so, preloaded by run.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/work/main/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=.venv/bin/python
CLANG=${CLANG:-$(command -v clang-19 || command -v clang || true)}
if [ -z "$CLANG" ]; then
    echo "build_sanitized: clang not found (apt-get install clang-19)" >&2
    exit 1
fi
TREE=fuzz/.sanitized
mkdir -p "$TREE"
# sources only (mtimes kept): the copy's own build products stay, so a rebuild is incremental
tar -cf - --exclude='*.so' --exclude='*.cpp' --exclude='__pycache__' feedhandler | tar -xf - -C "$TREE"
cp setup.py pyproject.toml README.md "$TREE/"
cd "$TREE"
# -O1: the sanitizers' usual level (faster to build, still inlines); vptr checks need the
# C++ UBSan runtime, which atheris' ASan runtime does not include
CXX=${CLANG/clang/clang++}
CC="$CLANG" CXX="$CXX" LDSHARED="$CXX -shared" LDCXXSHARED="$CXX -shared" \
FEEDHANDLER_SANITIZE=1 FEEDHANDLER_CXXFLAGS="-O1" \
FEEDHANDLER_SANITIZE_FLAGS="-fsanitize=fuzzer-no-link -fno-sanitize=vptr -fno-sanitize-recover=undefined" \
    "$PYTHON" setup.py -q build_ext --inplace
echo "sanitized extensions in $(pwd)/feedhandler"

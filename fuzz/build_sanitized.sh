#!/usr/bin/env bash
# Builds the extensions with AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer's
# coverage instrumentation into fuzz/.sanitized/ (a copy of the sources), leaving the normal
# in-place build untouched. fuzz/run.py --sanitized runs the harnesses against it.
#
# Needs clang and its runtimes (Debian bookworm: apt-get install clang-19 libclang-rt-19-dev).
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
# -O1: the sanitizers' usual level (faster to build, still inlines). No vptr or function
# checks: Cython calls its methods through casted function pointers by design, which
# -fsanitize=function reports on every call
FLAGS="-fsanitize=fuzzer-no-link -fno-sanitize=vptr,function -fno-sanitize-recover=undefined"
# a change of compiler or flags rebuilds everything (an incremental build would mix them)
STAMP="$CLANG $FLAGS"
if [ "$(cat build.flags 2>/dev/null)" != "$STAMP" ]; then
    rm -rf build
    find feedhandler -name '*.so' -delete
fi
echo "$STAMP" > build.flags
CXX=${CLANG/clang/clang++}
CC="$CLANG" CXX="$CXX" LDSHARED="$CXX -shared" LDCXXSHARED="$CXX -shared" \
FEEDHANDLER_SANITIZE=1 FEEDHANDLER_CXXFLAGS="-O1" \
FEEDHANDLER_SANITIZE_FLAGS="$FLAGS" \
    "$PYTHON" setup.py -q build_ext --inplace
# The runtime preloaded at run time: clang's ASan (with UBSan) and libFuzzer in one library,
# from this clang, so that they match the instrumentation (atheris' own asan_with_fuzzer.so
# is an older LLVM's). ASan's preinit object cannot go in a shared library; LD_PRELOAD does
# its job.
RT=$("$CLANG" -print-resource-dir)/lib/linux
OBJ=$(mktemp -d)
(cd "$OBJ" && ar x "$RT/libclang_rt.asan-x86_64.a" && rm -f asan_preinit*.o)
"$CXX" -shared -fPIC -o asan_with_fuzzer.so "$OBJ"/*.o -Wl,--whole-archive \
    "$RT/libclang_rt.asan_cxx-x86_64.a" "$RT/libclang_rt.fuzzer_no_main-x86_64.a" \
    -Wl,--no-whole-archive -lpthread -ldl -lrt -lm
rm -rf "$OBJ"
echo "sanitized extensions in $(pwd)/feedhandler, runtime $(pwd)/asan_with_fuzzer.so"

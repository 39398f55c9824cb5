"""Build the Cython extensions against the simdjson sources shipped in the pinned pysimdjson.

simdjson.cpp is compiled once into a static library (build_clib) that every extension links;
only the modules that cimport ``feedhandler.core.ondemand`` include simdjson.h.
"""

import importlib.util
import os
import sys
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_clib import build_clib
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
# FEEDHANDLER_CXXFLAGS adds flags to a local build, e.g. -march=native (never for wheels)
# FEEDHANDLER_SANITIZE builds with ASan+UBSan; FEEDHANDLER_SANITIZE_FLAGS adds to those (clang's
# -fsanitize=fuzzer-no-link for coverage-guided fuzzing: fuzz/build_sanitized.sh)
SANITIZE = (["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g",
             *os.environ.get("FEEDHANDLER_SANITIZE_FLAGS", "").split()]
            if os.environ.get("FEEDHANDLER_SANITIZE") else [])
CXXFLAGS = ["-std=c++17", "-O3", "-DNDEBUG", "-fno-strict-aliasing",
            *os.environ.get("FEEDHANDLER_CXXFLAGS", "").split(), *SANITIZE]


def simdjson_dir() -> str:
    spec = importlib.util.find_spec("simdjson")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("feedhandler build: pysimdjson==7.0.2 must be installed (build requirement)")
    folder = spec.submodule_search_locations[0]
    for name in ("simdjson.h", "simdjson.cpp"):
        if not os.path.isfile(os.path.join(folder, name)):
            sys.exit(f"feedhandler build: {name} not found in {folder}; pin pysimdjson==7.0.2")
    return folder


class BuildExtWithClib(build_ext):
    """Builds the simdjson static library first, so editable installs link it too."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def run(self) -> None:
        self.run_command("build_clib")
        self.library_dirs.append(self.get_finalized_command("build_clib").build_clib)
        super().run()


class BuildClibCxx(build_clib):
    def build_libraries(self, libraries):  # type: ignore[no-untyped-def]
        # skip the 30 s compile when the archive is already newer than its source
        todo = []
        for name, info in libraries:
            archive = Path(self.build_clib) / self.compiler.library_filename(name)
            newest = max(os.path.getmtime(s) for s in info["sources"])
            if not archive.exists() or archive.stat().st_mtime < newest:
                todo.append((name, info))
        super().build_libraries(todo)


SIMDJSON = simdjson_dir()


def extensions() -> list[Extension]:
    # FEEDHANDLER_MODULES=feedhandler.core.book,... limits a development build to those modules
    only = {m for m in os.environ.get("FEEDHANDLER_MODULES", "").split(",") if m}
    exts = []
    for pyx in sorted(HERE.glob("feedhandler/**/*.pyx")):
        rel = pyx.relative_to(HERE).with_suffix("")
        if only and ".".join(rel.parts) not in only:
            continue
        exts.append(
            Extension(
                ".".join(rel.parts),
                [str(rel) + ".pyx"],
                language="c++",
                include_dirs=[SIMDJSON, numpy.get_include(), str(HERE / "feedhandler" / "core")],
                libraries=["simdjson", "z"],
                extra_compile_args=CXXFLAGS,
                extra_link_args=SANITIZE,
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return exts


setup(
    libraries=[
        (
            "simdjson",
            {
                "sources": [os.path.join(SIMDJSON, "simdjson.cpp")],
                "include_dirs": [SIMDJSON],
                "cflags": [*CXXFLAGS, "-fPIC"],
            },
        )
    ],
    cmdclass={"build_ext": BuildExtWithClib, "build_clib": BuildClibCxx},
    ext_modules=cythonize(
        extensions(),
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
        annotate=bool(os.environ.get("FEEDHANDLER_ANNOTATE")),
    ),
)

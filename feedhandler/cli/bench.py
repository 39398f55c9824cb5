"""``feedhandler bench``: the repository's benchmark scripts (``bench/*.py``), run by name.

The scripts live in the source checkout, not in the installed package: this finds the
checkout next to the package (or at ``--checkout``), runs ``bench/<name>.py`` with the
arguments given after the name, in this interpreter with the checkout on ``PYTHONPATH``, and
exits with the script's status.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

import feedhandler
from feedhandler.cli.base import EXIT_FAILURE, EXIT_OK, Command, CommandError
from feedhandler.cli.output import Column, print_table

DEFAULT_CHECKOUT = Path(feedhandler.__file__).resolve().parents[1]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true",
                        help="list the benchmarks of the checkout and what each measures")
    parser.add_argument("--checkout", type=Path, default=DEFAULT_CHECKOUT, metavar="DIR",
                        help="the source checkout holding bench/ (default: the one feedhandler "
                        "is imported from, %(default)s)")
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="the benchmark: a script bench/NAME.py")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="ARGS",
                        help="passed to the script as they are (NAME --help shows its own)")


def benchmarks(checkout: Path) -> dict[str, Path]:
    """The checkout's benchmark scripts by name (pytest twins such as test_*.py left out)."""
    folder = checkout / "bench"
    if not folder.is_dir():
        raise CommandError(f"no bench/ directory in {checkout}: the benchmarks come with a "
                           "source checkout of feedhandler, not with the installed package "
                           "(run from a checkout, or pass --checkout DIR)")
    return {script.stem: script for script in sorted(folder.glob("*.py"))
            if not script.stem.startswith(("test_", "_"))}


def summary(script: Path) -> str:
    """The first line of the script's docstring, read without running it."""
    try:
        docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError):
        return "-"
    return docstring.strip().splitlines()[0] if docstring else "-"


def run(args: argparse.Namespace, console: Console) -> int:
    scripts = benchmarks(args.checkout.resolve())
    if args.list:
        if args.name is not None:
            raise CommandError("--list takes no benchmark name")
        print_table(console, f"{len(scripts)} benchmarks in {args.checkout / 'bench'}",
                    (Column("name"), Column("measures")),
                    [(name, summary(script)) for name, script in scripts.items()])
        return EXIT_OK
    if args.name is None:
        raise CommandError(f"name a benchmark ({', '.join(scripts) or 'none found'}), or "
                           "--list them")
    script = scripts.get(args.name)
    if script is None:
        raise CommandError(f"no benchmark named {args.name!r}; the checkout has "
                           f"{', '.join(scripts) or 'none'}")
    passed = args.arguments[1:] if args.arguments[:1] == ["--"] else args.arguments
    checkout = str(args.checkout.resolve())
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (checkout, env.get("PYTHONPATH"))))
    status = subprocess.run([sys.executable, str(script), *passed], cwd=checkout,
                            env=env, check=False).returncode
    return status if status >= 0 else EXIT_FAILURE


COMMAND = Command(
    "bench", "run one of the repository's benchmarks by name",
    "Run bench/NAME.py from the source checkout (book, decode, venues, peers, loopback, ... "
    "--list shows them) with the arguments that follow NAME, in this interpreter; the exit "
    "status is the benchmark's. Benchmarks print a table and a result line.",
    configure, run)

"""The ``feedhandler`` command line (``python -m feedhandler`` or the ``feedhandler`` script).

Each subcommand is a ``Command`` in its own module; adding ``run``, ``record``, ``replay`` or
``bench`` means writing that module and listing its command in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from feedhandler.cli import bench, check_live, demo, instruments, record, replay, run, venues
from feedhandler.cli.base import EXIT_FAILURE, EXIT_INTERRUPTED, Command, CommandError

COMMANDS: tuple[Command, ...] = (demo.COMMAND, run.COMMAND, record.COMMAND, replay.COMMAND,
                                 venues.COMMAND, instruments.COMMAND, check_live.COMMAND,
                                 bench.COMMAND)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedhandler",
        description="Exact, validated crypto-exchange market data. Exit status: 0 ok, "
        "1 the command failed, 2 bad arguments.")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND",
                                     required=True)
    for command in COMMANDS:
        subparser = commands.add_parser(command.name, help=command.help,
                                        description=command.description)
        command.configure(subparser)
        subparser.set_defaults(run=command.run, parser=subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:   # said by the command's parser, so that the message names the command
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        status: int = args.run(args, Console())
    except CommandError as error:
        print(f"feedhandler {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return status

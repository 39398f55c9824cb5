"""What every subcommand is made of, so that ``main`` can build and dispatch them uniformly."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

EXIT_OK = 0
EXIT_FAILURE = 1        # the command ran and failed (the message says why); bad arguments
                        # exit 2, from argparse
EXIT_INTERRUPTED = 130  # stopped by a second Ctrl-C, without the orderly finish


class CommandError(Exception):
    """A failure the user can act on: printed as one line, without a traceback, exit 1."""


@dataclass(frozen=True)
class Command:
    """One ``feedhandler <name>`` subcommand: its arguments and the function that runs it."""

    name: str
    help: str
    description: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Console], int]

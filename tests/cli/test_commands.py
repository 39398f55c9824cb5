"""Every ``feedhandler`` command behaves alike: help, usage errors (exit 2), failures (exit 1).

The checks iterate over ``feedhandler.cli.COMMANDS``, so a command added there is covered."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import feedhandler.cli as cli
from feedhandler.cli import COMMANDS, main
from feedhandler.cli.base import EXIT_FAILURE, Command, CommandError

REPO = Path(__file__).resolve().parents[2]
NAMES = [command.name for command in COMMANDS]
POSITIONALS = {"bench": ["book"], "replay": ["recording.fhr"],   # what a command requires
               "instruments": ["binance"]}


def exit_code(argv: list[str]) -> int | str | None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


@pytest.mark.parametrize("command", COMMANDS, ids=NAMES)
def test_every_command_has_a_help_line_and_a_description(command: Command) -> None:
    assert command.help and command.help == command.help.strip() and "\n" not in command.help
    assert len(command.description) > len(command.help)
    assert not command.help.endswith("."), "help lines are phrases, as argparse's own"


@pytest.mark.parametrize("name", NAMES)
def test_help_exits_0_and_shows_the_description(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: feedhandler {name}")
    command = next(c for c in COMMANDS if c.name == name)
    assert " ".join(command.description.split()[:4]) in " ".join(out.split())


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command.name in out and command.help[:30] in " ".join(out.split())


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_option_exits_2_naming_the_command_and_the_option(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code([name, "--no-such-option", *POSITIONALS.get(name, [])]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"feedhandler {name}: error: unrecognized arguments: --no-such-option" in captured.err


@pytest.mark.parametrize("name", NAMES)
def test_a_failure_prints_one_error_line_and_exits_1(
        name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def fail(*_: object) -> int:
        raise CommandError("the venue said no")

    monkeypatch.setattr(cli, "COMMANDS", tuple(
        dataclasses.replace(c, run=fail) if c.name == name else c for c in COMMANDS))
    argv = [name, *POSITIONALS.get(name, [])]
    assert main(argv) == EXIT_FAILURE
    assert capsys.readouterr().err == f"feedhandler {name}: error: the venue said no\n"


# ---- bench ---------------------------------------------------------------------------------

def test_bench_lists_the_checkout_s_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines()[2:]}
    scripts = {p.stem for p in (REPO / "bench").glob("*.py") if not p.stem.startswith("test_")}
    assert listed == scripts and {"book", "decode", "venues", "peers"} <= listed
    assert "Order book: one level update" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "nope"], "no benchmark named 'nope'; the checkout has book, catalog, decode"),
    (["bench"], "name a benchmark (book, catalog, decode"),
    (["bench", "--list", "book"], "--list takes no benchmark name"),
])
def test_bench_errors_say_what_to_do(argv: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.startswith("feedhandler bench: error: ") and message in err, err


def test_bench_outside_a_checkout_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--checkout", str(tmp_path), "book"]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert f"feedhandler bench: error: no bench/ directory in {tmp_path}" in err
    assert "source checkout" in err


def test_bench_runs_the_script_with_its_arguments_and_exits_with_its_status(
        tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "echo.py").write_text(
        '"""Prints its arguments and where feedhandler comes from."""\n'
        "import sys, feedhandler\n"
        "print(sys.argv[1:], feedhandler.__file__)\n"
        "sys.exit(3)\n")
    result = subprocess.run(
        [sys.executable, "-m", "feedhandler", "bench", "--checkout", str(tmp_path), "echo",
         "--rounds", "2", "--list"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("['--rounds', '2', '--list'] ")
    assert subprocess.run(
        [sys.executable, "-m", "feedhandler", "bench", "--checkout", str(tmp_path), "--list"],
        cwd=REPO, capture_output=True, text=True, timeout=60).stdout.splitlines()[2].split(
        None, 1) == ["echo", "Prints its arguments and where feedhandler comes from."]

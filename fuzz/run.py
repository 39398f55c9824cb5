"""Runs every fuzz harness (or ``--only`` some) for ``--seconds`` each and prints a table.

    python fuzz/run.py --seconds 60                 # normal build
    bash fuzz/build_sanitized.sh && python fuzz/run.py --seconds 60 --sanitized

Each harness runs in its own process (``fuzz/main.py``) for N seconds of fuzzing
(libFuzzer's ``-max_total_time``; the few seconds of setup before it are not counted). A
crash (an uncaught exception, a broken invariant, a sanitizer report) ends that process: its
input is kept in ``fuzz/crashes/`` and the harness is started again for the rest of its
time. Corpora grow in ``fuzz/corpus/<harness>/work`` between runs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:1] = [str(ROOT)]
FUZZ = ROOT / "fuzz"
SANITIZED = FUZZ / ".sanitized"
MAX_RESTARTS = 5


@dataclass
class Result:
    name: str
    executions: int = 0
    seconds: float = 0.0          # fuzzing seconds, from libFuzzer's own count
    crashes: list[Path] = field(default_factory=list)
    corpus: int = 0
    coverage_start: int = 0
    coverage_end: int = 0
    problem: str = ""

    @property
    def rate(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


def environment(sanitized: bool) -> dict[str, str]:
    env = dict(os.environ)
    if sanitized:
        import atheris

        if not any(SANITIZED.glob("feedhandler/core/*.so")):
            sys.exit("run.py: no sanitized build; run bash fuzz/build_sanitized.sh first")
        env["FEEDHANDLER_FUZZ_TREE"] = str(SANITIZED)
        runtime = SANITIZED / "asan_with_fuzzer.so"
        if not runtime.exists():
            runtime = Path(atheris.path()) / "asan_with_fuzzer.so"
        env["LD_PRELOAD"] = str(runtime)
        env["ASAN_OPTIONS"] = "detect_leaks=0:allocator_may_return_null=1:abort_on_error=0"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


def run_one(name: str, seconds: int, sanitized: bool, log: Path) -> Result:
    result = Result(name)
    corpus = FUZZ / "corpus" / name
    crashes = FUZZ / "crashes"
    crashes.mkdir(exist_ok=True)
    env = environment(sanitized)
    with log.open("w") as out:
        for _ in range(MAX_RESTARTS + 1):
            left = int(seconds - result.seconds)
            if left < 2:
                break
            process = subprocess.run(
                [sys.executable, str(FUZZ / "main.py"), name, str(corpus),
                 f"-max_total_time={left}", "-timeout=20", "-rss_limit_mb=4096",
                 "-print_final_stats=1", f"-artifact_prefix={crashes}/{name}-"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                errors="replace", timeout=left + 600, cwd=ROOT)
            out.write(process.stdout)
            parse(process.stdout, result, left)
            written = re.findall(r"Test unit written to (\S+)", process.stdout)
            result.crashes += [Path(p) for p in written]
            if not written:
                if process.returncode != 0:
                    result.problem = f"exit {process.returncode} without a crash input"
                break
    return result


def parse(output: str, result: Result, planned: int) -> None:
    inited = re.search(r"INITED cov: (\d+)", output)
    if inited and not result.coverage_start:
        result.coverage_start = int(inited.group(1))
    status = re.findall(r"^#(\d+)\s+\w+\s+cov: (\d+) .*?corp: (\d+)/", output, re.M)
    if status:
        _runs, cov, corp = status[-1]
        result.coverage_end = max(result.coverage_end, int(cov))
        result.corpus = int(corp)
    done = re.search(r"stat::number_of_executed_units: (\d+)", output)
    rate = re.search(r"stat::average_exec_per_sec:\s+(\d+)", output)
    executions = int(done.group(1)) if done else int(status[-1][0]) if status else 0
    result.executions += executions
    # a crash ends the run early: its elapsed time is executions / rate
    result.seconds += executions / int(rate.group(1)) if rate and int(rate.group(1)) \
        else planned


def main() -> None:
    from fuzz.harnesses import harnesses

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="wall seconds per harness")
    parser.add_argument("--sanitized", action="store_true",
                        help="ASan+UBSan+coverage build from fuzz/build_sanitized.sh")
    parser.add_argument("--only", nargs="*", help="harness names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the harnesses and exit")
    args = parser.parse_args()
    found = harnesses()
    if args.list:
        for h in found:
            print(f"{h.name:<24}{h.description}")
        return
    chosen = [h for h in found if not args.only or h.name in args.only]
    unknown = set(args.only or ()) - {h.name for h in found}
    if unknown:
        sys.exit(f"run.py: unknown harness {', '.join(sorted(unknown))}")
    logs = FUZZ / "corpus" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"{'harness':<24}{'executions':>11}{'exec/s':>9}{'crashes':>8}{'corpus':>8}"
          f"{'new cov':>9}  ({'sanitized' if args.sanitized else 'normal'} build, "
          f"{args.seconds} s each; logs in {logs})", flush=True)
    total_crashes = 0
    for h in chosen:
        result = run_one(h.name, args.seconds, args.sanitized, logs / f"{h.name}.log")
        total_crashes += len(result.crashes)
        print(f"{result.name:<24}{result.executions:>11}{result.rate:>9.0f}"
              f"{len(result.crashes):>8}{result.corpus:>8}"
              f"{result.coverage_end - result.coverage_start:>9}"
              f"  {result.problem}", flush=True)
        for crash in result.crashes:
            print(f"    crash: {crash.relative_to(ROOT)}")
    sys.exit(1 if total_crashes else 0)


if __name__ == "__main__":
    main()

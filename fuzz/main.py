"""One harness under atheris: ``python fuzz/main.py NAME CORPUS_DIR [libFuzzer flags]``;
``python fuzz/main.py NAME --run FILE...`` runs those inputs once, without fuzzing (a crash
reproduced, its traceback in full).

Writes the harness's seeds to ``CORPUS_DIR/seeds`` and its token dictionary to
``CORPUS_DIR/tokens.dict``, then fuzzes with ``CORPUS_DIR/work`` as the growing corpus.
``FEEDHANDLER_FUZZ_TREE`` (set by ``run.py --sanitized``) puts the sanitized build first.
``fuzz/run.py`` is the usual way in; this is what it starts, once per harness.
"""

import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:1] = [p for p in (os.environ.get("FEEDHANDLER_FUZZ_TREE"), str(ROOT)) if p]

import atheris  # noqa: E402


def dictionary_line(token: bytes) -> str:
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\x{b:02x}"
                         for b in token) + '"'


def main() -> None:
    name = sys.argv[1]
    # Python coverage for the harness, its oracles and the feedhandler code it reaches; the
    # compiled decoders report theirs only in the sanitized build (-fsanitize=fuzzer-no-link)
    with atheris.instrument_imports(include=["fuzz", "feedhandler"]):
        from fuzz.harnesses import harness

        target = harness(name).prepare()
    if sys.argv[2] == "--run":
        for path in sys.argv[3:]:
            print(f"fuzz: {name}: {path}", flush=True)
            target.test_one(Path(path).read_bytes())
        return
    corpus = Path(sys.argv[2])
    seeds, work = corpus / "seeds", corpus / "work"
    seeds.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    for seed in target.seeds:
        (seeds / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    flags = sys.argv[3:]
    if target.tokens:
        tokens = corpus / "tokens.dict"
        tokens.write_text("\n".join(sorted(map(dictionary_line, target.tokens))) + "\n")
        flags.append(f"-dict={tokens}")
    print(f"fuzz: {name}: {len(target.seeds)} seeds, {len(target.tokens)} tokens, "
          f"feedhandler from {sys.modules['feedhandler'].__file__}", flush=True)
    atheris.Setup([sys.argv[0], *flags, str(work), str(seeds)], target.test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

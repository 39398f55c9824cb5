"""The fuzz harnesses (fuzz/) hold on their own seeds, so they keep working as the decoders
change; atheris itself is not needed (the fuzz extra is for fuzz/run.py)."""

import pytest

from fuzz.harnesses import BrokenInvariant, harness, harnesses, spread
from fuzz.invariants import check_book

NAMES = [h.name for h in harnesses()]


def test_every_registered_venue_has_a_decoder_harness() -> None:
    from feedhandler.exchanges.registry import venues

    assert {f"decoder-{info.name}" for info in venues()} <= set(NAMES)
    assert {"decimal", "inflate", "frames"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_harness_holds_on_its_seeds(name: str) -> None:
    target = harness(name).prepare()
    assert target.seeds
    for seed in spread(target.seeds, 150):
        target.test_one(seed)


def test_the_book_invariant_catches_a_crossed_valid_book() -> None:
    from feedhandler.core.book import ASK, BID, OrderBook

    book = OrderBook(2, 2)
    book.apply_delta(BID, 105, 1)
    book.apply_delta(ASK, 100, 1)
    book.valid = True
    with pytest.raises(BrokenInvariant, match="crossed"):
        check_book(book, "test")
    book.valid = False
    check_book(book, "test")                 # a withdrawn book may be anything
    one_sided = OrderBook(2, 2)
    one_sided.apply_delta(BID, 105, 1)       # (the run that found this check raising
    one_sided.valid = True                   # IndexError on it: decoder-bybit-linear)
    check_book(one_sided, "test")


def test_the_decimal_oracle_catches_a_wrong_value() -> None:
    target = harness("decimal").prepare()
    target.test_one(bytes([2]) + b"1.5")     # exact: passes
    with pytest.raises(BrokenInvariant):
        from feedhandler.core import fixedpoint

        real = fixedpoint.to_fixed
        try:
            fixedpoint.to_fixed = lambda text, scale: real(text, scale) + 1
            harness("decimal").prepare().test_one(bytes([2]) + b"1.5")
        finally:
            fixedpoint.to_fixed = real


def test_the_private_row_checks_catch_rows_the_flags_do_not_report() -> None:
    from fuzz.harnesses import RingCursors, check_private_rows, private_rings, private_stream

    names = [n for n in NAMES if n.startswith("private-")]
    assert names, "no private decoder harness discovered"
    target = harness(names[0]).prepare()
    target.test_one(target.seeds[0])                    # the real thing holds
    stream = private_stream(names[0].removeprefix("private-"))
    assert stream is not None
    rings = private_rings()
    decoder = stream.new_decoder(rings)
    written = 0
    for seed in target.seeds:
        cursors, before = RingCursors(rings), decoder.stats()
        flags = decoder.feed(seed)
        if cursors.written()["orders"]:
            written += 1
            with pytest.raises(BrokenInvariant, match="rows written but flags"):
                check_private_rows(decoder, cursors, flags & ~128, before, seed, {}, "t")
            with pytest.raises(BrokenInvariant, match="order_updates"):
                check_private_rows(decoder, cursors, flags, dict(before, order_updates=-5),
                                   seed, {}, "t")
            break
    assert written, "no seed wrote an order row"

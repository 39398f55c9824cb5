"""Every fuzz harness, generated from the venue registry rather than written per venue.

* ``decoder-<venue>``: each registered venue's public decoder (``Session`` replays the real
  live session; input = messages separated by ``SEPARATOR``; a message starting ``SNAPSHOT``
  is a REST depth snapshot body for venues that take one).
* ``private-<venue>``: each venue's private-stream decoder, made as the connection manager
  makes it (``adapter.private(credentials).new_decoder(rings)`` with real private rings). A
  venue gains its harness the moment its adapter's ``private`` stops raising
  NotImplementedError; seeds are the JSON literals of its tests (the docs samples) and what
  its simulator renders for a seeded ``SimAccount``.
* ``decimal``: ``fixedpoint.to_fixed`` against an exact ``decimal.Decimal`` oracle.
* ``inflate``: the listener's gzip/zlib/deflate path against Python's zlib.
* ``frames``: the listener's frame reassembly (fragments, continuations, oversize) against a
  model of RFC 6455 message assembly.

A harness is ``prepare() -> Target``: setup once per process (the decoders' sessions run the
simulator on 127.0.0.1 for a second), then ``Target.test_one(data)`` per input, raising
``BrokenInvariant`` (or anything else) on a finding.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from fuzz.invariants import BrokenInvariant, DecoderWatch, check

if TYPE_CHECKING:
    from feedhandler.core.decoder import PassthroughDecoder
    from feedhandler.core.private import PrivateDecoder
    from feedhandler.core.rings import RingBatch
    from feedhandler.exchanges.base import PrivateVenue, Rings

ROOT = Path(__file__).resolve().parent.parent
SEPARATOR = b"\x1e"          # ASCII record separator: never raw inside JSON
SNAPSHOT = b"\x02"           # marks a REST snapshot body
MAX_SEEDS = 400
JSON_TOKENS = [b"{", b"}", b"[", b"]", b",", b":", b'"', b"true", b"false", b"null", b'""',
               b"-", b".", b"e", b"E", b"1e5", b"-0", b"0.", b"1E-9", b"\\u0000", b'\\"',
               b"9223372036854775807", b"99999999999999999999", b"0.000000000000000000001"]


@dataclass
class Target:
    test_one: Callable[[bytes], None]
    seeds: list[bytes]
    tokens: set[bytes] = field(default_factory=set)


@dataclass(frozen=True)
class Harness:
    name: str
    prepare: Callable[[], Target]
    description: str


# ---- seeds and dictionaries -------------------------------------------------------------------

def json_literals(folder: Path) -> list[bytes]:
    """The JSON documents written as literals in the tests under ``folder`` (the venues'
    documented examples live there)."""
    found: list[bytes] = []
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, (bytes, str)):
                raw = node.value.encode() if isinstance(node.value, str) else node.value
                if raw[:1] in (b"{", b"[") and len(raw) > 2:
                    try:
                        json.loads(raw)
                    except ValueError:
                        continue
                    found.append(raw)
    return found


def json_tokens(messages: Iterable[bytes]) -> set[bytes]:
    """Field names and short string values of the messages, quoted as on the wire."""
    tokens: set[bytes] = set(JSON_TOKENS)

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                tokens.add(json.dumps(key).encode())
                walk(item)
        elif isinstance(value, list):
            for item in value[:4]:
                walk(item)
        elif isinstance(value, str) and len(value) <= 24:
            tokens.add(json.dumps(value).encode())

    for message in messages:
        try:
            walk(json.loads(message))
        except ValueError:
            continue
    return tokens


def spread(items: list[bytes], count: int) -> list[bytes]:
    """At most ``count`` items evenly across the list (the message kinds are interleaved)."""
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def split_messages(data: bytes) -> list[bytes]:
    return data.split(SEPARATOR)[:16]


# ---- venue decoders ---------------------------------------------------------------------------

def decoder_target(venue: str) -> Target:
    from feedhandler.core.decoder import DecodeError
    from feedhandler.exchanges.registry import venue as lookup
    from fuzz.session import record

    info = lookup(venue)
    session = record(info)
    rest = [args[1] for name, args, _ in session.steps if name == "apply_snapshot"]
    book_slots = [args[0] for name, args, _ in session.steps if name == "set_book"]

    def test_one(data: bytes) -> None:
        decoder = session.fresh()
        for index, message in enumerate(split_messages(data)):
            what = f"{venue} message {index}"
            if message[:1] == SNAPSHOT and rest:
                slot = book_slots[0]
                decoder.mark_waiting(slot)      # as the adapter does before fetching
                try:
                    decoder.apply_snapshot(slot, message[1:])
                except DecodeError:
                    book = decoder.book(slot)
                    check(book is None or not book.valid,
                          f"{what}: refused snapshot left the book valid")
                check_books(decoder, what)
                continue
            watch = DecoderWatch(decoder, venue)
            flags = decoder.feed(message)
            watch.after(flags, what)

    seeds = spread(session.seeds, MAX_SEEDS)
    runs = [SEPARATOR.join(session.seeds[i:i + 4]) for i in range(0, len(session.seeds), 37)]
    docs = json_literals(ROOT / "tests" / "exchanges" / package_of(venue))
    seeds += runs[:100] + docs + [SNAPSHOT + body for body in rest]
    return Target(test_one, seeds, json_tokens(session.seeds + docs))


def check_books(decoder: object, what: str) -> None:
    from fuzz.invariants import check_book

    for slot in range(decoder.slot_count):          # type: ignore[attr-defined]
        book = decoder.book(slot)                   # type: ignore[attr-defined]
        if book is not None:
            check_book(book, f"{what}: slot {slot}")


def package_of(venue: str) -> str:
    """``feedhandler.exchanges.<package>`` of a registered venue (binance-usdm -> binance)."""
    from feedhandler.exchanges.registry import venue as lookup

    return type(lookup(venue).create()).__module__.split(".")[2]


# ---- private decoders -------------------------------------------------------------------------

# a throwaway account: the decoders never see credentials, the adapter only needs them
FUZZ_CREDENTIALS = ("fuzz-key-0000", "fuzz-secret-0000", "fuzz-passphrase")
PRIVATE_RING_CAPACITY = 4096
ACCOUNT_STEPS = 200
# (symbol, base, quote, price, tick, lot, price scale, size scale): the simulated listings
ACCOUNT_LISTINGS = (("BTC-USDT", "BTC", "USDT", "60000.0", "0.1", "0.00001", 1, 5),
                    ("ETH-USDT", "ETH", "USDT", "3000.00", "0.01", "0.0001", 2, 4))


def private_stream(venue: str) -> PrivateVenue | None:
    """The venue's private-stream adapter as the FeedHandler makes it
    (``adapter.private(credentials)``), None while the venue has none."""
    from feedhandler.auth.credentials import Credentials
    from feedhandler.exchanges.registry import venue as lookup

    info = lookup(venue)
    if not info.private_channels:
        return None
    try:
        return info.create().private(Credentials(*FUZZ_CREDENTIALS))
    except NotImplementedError:
        return None


@cache
def private_rings() -> Rings:
    """Real private rings, shared across inputs: each message's rows are read through a
    reader opened just before it."""
    from feedhandler.core.rings import BalanceRing, OrderRing, PositionRing
    from feedhandler.exchanges.base import Rings
    from fuzz.session import new_rings

    public = new_rings()
    return Rings(public.trades, public.tickers, public.candles,
                 OrderRing(PRIVATE_RING_CAPACITY), BalanceRing(PRIVATE_RING_CAPACITY),
                 PositionRing(PRIVATE_RING_CAPACITY))


def account_frames(venue: str, futures: bool) -> list[bytes]:
    """What the venue's simulator pushes for a seeded account's orders, fills, cancels and
    balance (and position) changes: ``render_account`` over ``SimAccount`` steps."""
    from feedhandler.exchanges.registry import venue as lookup
    from feedhandler.sim.account import Listing, SimAccount
    from feedhandler.sim.venues import VENUES

    adapter = lookup(venue).create()
    listings = [Listing(adapter.venue_symbol(symbol), base, quote, Decimal(price),
                        Decimal(tick), Decimal(lot))
                for symbol, base, quote, price, tick, lot, _, _ in ACCOUNT_LISTINGS]
    account = SimAccount(listings, {"BTC": Decimal(3), "ETH": Decimal(40),
                                    "USDT": Decimal(500000)}, futures=futures, seed=8)
    module, _, name = VENUES[adapter.name].factory.partition(":")
    simulator = getattr(importlib.import_module(module), name)(
        market=adapter.market, symbols=[listing.symbol for listing in listings],
        account=account)
    frames: list[bytes] = []
    for _ in range(ACCOUNT_STEPS):
        frames += simulator.render_account(account.step())
    return frames


@dataclass
class RingCursors:
    """Where each private ring was before a message, to read exactly the rows it wrote."""

    rings: Rings

    def __post_init__(self) -> None:
        from feedhandler.core.rings import RingReader

        self.readers = {name: RingReader(getattr(self.rings, name))
                        for name in ("orders", "balances", "positions")}

    def written(self) -> dict[str, int]:
        return {name: reader.pending for name, reader in self.readers.items()}

    def rows(self, name: str) -> RingBatch:
        return self.readers[name].read()


def check_private_rows(decoder: PrivateDecoder, cursors: RingCursors, flags: int,
                       before: dict[str, int], message: bytes, scales: dict[int, tuple[int, int]],
                       what: str) -> None:
    """The rows a message wrote agree with the PRIVATE flag and the decoder's counters, and
    each is a row the callbacks can trust."""
    from feedhandler.core.decoder import Decoded
    from feedhandler.core.private import BALANCE_SCALE_WIDE
    from feedhandler.events import OrderStatus

    written = cursors.written()
    stats = decoder.stats()
    for ring, counter in (("orders", "order_updates"), ("balances", "balance_updates"),
                          ("positions", "position_updates")):
        check(written[ring] == stats[counter] - before[counter],
              f"{what}: {written[ring]} {ring} rows but {counter} "
              f"+{stats[counter] - before[counter]}")
    rows = sum(written.values())
    check((rows > 0) == bool(flags & Decoded.PRIVATE),
          f"{what}: {rows} private rows written but flags {flags!r}")
    check(rows <= PRIVATE_RING_CAPACITY, f"{what}: {rows} rows from one message")
    statuses = {int(s) for s in OrderStatus}
    default = (decoder.default_price_scale, decoder.default_size_scale)
    for ring in ("orders", "positions"):
        if not written[ring]:
            continue
        batch = cursors.rows(ring)
        for i in range(len(batch)):
            where = f"{what}: {ring} row {i}"
            instrument = int(batch.instrument[i])
            expected = scales.get(instrument, default) if instrument >= 0 else default
            check(instrument < 0 or instrument in scales,
                  f"{where}: instrument {instrument} was never registered")
            check((int(batch.price_scale[i]), int(batch.size_scale[i])) == expected,
                  f"{where}: scales {batch.price_scale[i]}/{batch.size_scale[i]}, the "
                  f"instrument's are {expected}")
            check(int(batch.side[i]) in (-1, 0, 1), f"{where}: side {batch.side[i]}")
            if ring == "orders":
                check(int(batch.status[i]) in statuses, f"{where}: status {batch.status[i]}")
                check(int(batch.fee_scale[i]) == decoder.asset_scale, f"{where}: fee scale")
                order_id = bytes(batch.order_id[i])
                check(order_id in message, f"{where}: order id {order_id!r} not in the message")
            else:
                check(int(batch.pnl_scale[i]) == decoder.asset_scale, f"{where}: PnL scale")
    if written["balances"]:
        batch = cursors.rows("balances")
        # a 128-bit row (HTX's 18-decimal amounts) is at the wide scale, every other at the
        # asset scale
        check(bool(((batch.scale == decoder.asset_scale)
                    | (batch.scale == BALANCE_SCALE_WIDE)).all()),
              f"{what}: a balance row at neither the asset scale {decoder.asset_scale} nor "
              f"the wide {BALANCE_SCALE_WIDE}")


def private_target(venue: str) -> Target:
    from feedhandler.core.private import PrivateDecoder

    stream = private_stream(venue)
    assert stream is not None
    rings = private_rings()
    scales = {instrument: (price_scale, size_scale) for instrument, (*_, price_scale, size_scale)
              in enumerate(ACCOUNT_LISTINGS)}
    symbols = [stream.venue_symbol(listing[0]) for listing in ACCOUNT_LISTINGS]

    def fresh() -> PrivateDecoder:
        decoder = stream.new_decoder(rings)
        check(isinstance(decoder, PrivateDecoder), f"{venue}: {decoder!r} is no PrivateDecoder")
        assert isinstance(decoder, PrivateDecoder)
        for instrument, symbol in enumerate(symbols):
            decoder.add_instrument(symbol, instrument, *scales[instrument])
        return decoder

    def test_one(data: bytes) -> None:
        decoder = fresh()
        for index, message in enumerate(split_messages(data)):
            what = f"{venue} private message {index}"
            watch = DecoderWatch(decoder)
            cursors = RingCursors(rings)
            before = decoder.stats()
            flags = decoder.feed(message)
            watch.after(flags, what)
            check_private_rows(decoder, cursors, flags, before, message, scales, what)

    folder = ROOT / "tests" / "exchanges" / package_of(venue)
    docs = json_literals(folder)
    frames = account_frames(venue, stream.futures or stream.market != "spot")
    runs = [SEPARATOR.join(frames[i:i + 6]) for i in range(0, len(frames), 23)]
    seeds = docs + spread(frames, MAX_SEEDS) + runs
    return Target(test_one, seeds, json_tokens(docs + frames))


# ---- decimal parser ---------------------------------------------------------------------------

DECIMAL_SYNTAX = re.compile(rb"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
INT64 = (-(1 << 63), (1 << 63) - 1)


def significant_digits(text: bytes) -> int:
    mantissa = re.split(rb"[eE]", text.lstrip(b"-"))[0].replace(b".", b"")
    return len(mantissa.lstrip(b"0").rstrip(b"0")) if mantissa.strip(b"0") else 0


def decimal_target() -> Target:
    from feedhandler.core.fixedpoint import DecimalError, to_fixed

    def test_one(data: bytes) -> None:
        if not data:
            return
        scale, text = data[0] % 19, data[1:]
        try:
            got: int | None = to_fixed(text, scale)
        except DecimalError:
            got = None
        if DECIMAL_SYNTAX.fullmatch(text) is None:
            check(got is None, f"to_fixed({text!r}, {scale}) accepted non-decimal text: {got}")
            return
        exponent = re.split(rb"[eE]", text)
        if len(exponent) == 2 and abs(int(exponent[1])) > 400:
            exact = None if got is None else got     # beyond the oracle's range: only no crash
        else:
            with localcontext() as ctx:
                ctx.prec = 1000
                ctx.Emax, ctx.Emin = 10**6, -10**6
                try:
                    scaled = Decimal(text.decode()).scaleb(scale)
                except InvalidOperation:
                    return
                exact = int(scaled) if scaled == scaled.to_integral_value() \
                    and INT64[0] < scaled <= INT64[1] else None
            if significant_digits(text) > 19 and got is None:
                return              # documented: at most 19 significant digits are read
            check(got == exact, f"to_fixed({text!r}, {scale}) = {got}, exact value {exact}")

    seeds = [bytes([s]) + t for s, t in [
        (8, b"0.00100000"), (2, b"27000.5"), (8, b"1e-8"), (0, b"-12"), (18, b"9.2"),
        (4, b"1.5E+3"), (8, b"0.000000000000000000001"), (0, b"9223372036854775807"),
        (3, b"12345678901234567.890"), (8, b"-0.0"), (6, b"00000000000000000000000001.5")]]
    return Target(test_one, seeds, {b".", b"-", b"e", b"E", b"+", b"0", b"00000000"})


# ---- inflation --------------------------------------------------------------------------------

class RecordingHandler:
    """The listener's handler: remembers what it was told."""

    def __init__(self) -> None:
        self.fatal: list[str] = []
        self.batches = 0

    def on_connected(self, transport: object) -> None: ...

    def on_disconnected(self) -> None: ...

    def on_batch(self, flags: int) -> None:
        self.batches += 1

    def on_fatal(self, reason: str) -> None:
        self.fatal.append(reason)


INFLATE_LIMIT = 1 << 16


def passthrough() -> PassthroughDecoder:
    """A decoder queueing every message for Python, on small rings (the default ones take
    milliseconds to allocate)."""
    from feedhandler.core.decoder import PassthroughDecoder
    from fuzz.session import new_rings

    rings = new_rings()
    return PassthroughDecoder(rings.trades, rings.tickers, rings.candles)


def python_inflate(data: bytes, wbits: int) -> bytes | None:
    """The whole message zlib inflates from ``data`` (trailing bytes ignored), None if it
    is not one complete stream."""
    stream = zlib.decompressobj(wbits)
    try:
        out = stream.decompress(data, INFLATE_LIMIT + 1)
    except zlib.error:
        return None
    return out if stream.eof else None


def inflate_target() -> Target:
    from feedhandler.core.listener import FeedListener
    from feedhandler.exchanges.registry import venues
    from fuzz.session import record

    def test_one(data: bytes) -> None:
        if not data:
            return
        mode, payload = ("gzip", "deflate")[data[0] & 1], data[1:]
        decoder, handler = passthrough(), RecordingHandler()
        listener = FeedListener(decoder, handler, max_message_size=INFLATE_LIMIT,
                                compression=mode)
        listener.feed_many([payload], True)
        control = decoder.take_control()
        expected = python_inflate(payload, zlib.MAX_WBITS | 32 if mode == "gzip"
                                  else -zlib.MAX_WBITS)
        if expected is not None and len(expected) <= INFLATE_LIMIT:
            check(control == [expected] and not handler.fatal,
                  f"{mode}: zlib inflates {len(expected)} bytes, listener gave "
                  f"{[len(c) for c in control]} fatal {handler.fatal}")
        elif expected is None:
            check(not control and len(handler.fatal) == 1 and listener.inflate_failures == 1,
                  f"{mode}: zlib refuses the stream, listener gave {[len(c) for c in control]}"
                  f" fatal {handler.fatal}")
        else:
            check(not control and listener.oversize == 1, f"{mode}: oversize not refused")

    seeds: list[bytes] = []
    for info in venues():
        if info.create().compression != "none":
            seeds += [b"\x00" + w for w in spread(record(info, 40).wire, 40)]
    sample = b'{"ch":"market.btcusdt.trade.detail","ts":1,"tick":{"data":[]}}'
    deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    seeds += [b"\x00" + zlib.compress(sample), b"\x00" + zlib.compress(b"x" * 70000),
              b"\x01" + deflate.compress(sample) + deflate.flush()]
    return Target(test_one, seeds, {b"\x1f\x8b\x08\x00", b"\x78\x9c", b"\x78\x01"})


# ---- frame reassembly -------------------------------------------------------------------------

TEXT, BINARY, CONTINUATION = 1, 2, 0
FRAME_LIMIT = 64


def frames_of(data: bytes) -> Iterator[tuple[int, bool, bytes]]:
    """Input -> frames: a header byte (opcode in bits 0-1, FIN in bit 2, payload length in
    bits 3-7 times 3) then the payload."""
    i = 0
    while i < len(data):
        header = data[i]
        kind = (CONTINUATION, TEXT, BINARY, TEXT)[header & 3]
        fin = bool(header & 4)
        length = (header >> 3) * 3
        yield kind, fin, data[i + 1:i + 1 + length]
        i += 1 + length


def expected_assembly(frames: Iterable[tuple[int, bool, bytes]]) -> tuple[list[bytes], int]:
    """RFC 6455 message assembly as the listener promises it: (messages decoded, fatal count)."""
    messages: list[bytes] = []
    fatal = 0
    parts: list[bytes] | None = None
    for kind, fin, payload in frames:
        if kind != CONTINUATION:
            if parts is not None:
                fatal += 1
                continue
            if fin:
                if len(payload) > FRAME_LIMIT:
                    fatal += 1
                else:
                    messages.append(payload)
            else:
                parts = [payload]
                if len(payload) > FRAME_LIMIT:
                    fatal += 1
                    parts = None
            continue
        if parts is None:
            fatal += 1
            continue
        parts.append(payload)
        if sum(map(len, parts)) > FRAME_LIMIT:
            fatal += 1
            parts = None
        elif fin:
            messages.append(b"".join(parts))
            parts = None
    return messages, fatal


def frames_target() -> Target:
    from feedhandler.core.listener import FeedListener

    def test_one(data: bytes) -> None:
        frames = list(frames_of(data))
        decoder, handler = passthrough(), RecordingHandler()
        listener = FeedListener(decoder, handler, max_message_size=FRAME_LIMIT)
        for kind, fin, payload in frames:
            listener.feed_frame(kind, fin, payload)
        messages, fatal = expected_assembly(frames)
        got = decoder.take_control()
        check(got == messages, f"frames {frames}: decoded {got}, expected {messages}")
        check(len(handler.fatal) == fatal,
              f"frames {frames}: {len(handler.fatal)} fatal, expected {fatal}: {handler.fatal}")
        check(listener.messages == len(messages), "listener.messages disagrees")

    def frame(kind: int, fin: bool, payload: bytes) -> bytes:
        return bytes([({CONTINUATION: 0, TEXT: 1, BINARY: 2}[kind]) | (4 if fin else 0)
                      | (len(payload) // 3) << 3]) + payload

    seeds = [frame(TEXT, True, b'{"a":1}  '),
             frame(TEXT, False, b'{"a') + frame(CONTINUATION, False, b'":1') +
             frame(CONTINUATION, True, b"}  "),
             frame(BINARY, False, b"abc") + frame(TEXT, True, b"def"),
             frame(CONTINUATION, True, b"xyz"),
             frame(TEXT, False, b"a" * 60) + frame(CONTINUATION, True, b"b" * 9)]
    return Target(test_one, seeds, set())


# ---- the list ---------------------------------------------------------------------------------

def harnesses() -> list[Harness]:
    from functools import partial

    from feedhandler.exchanges.registry import venues

    found = [Harness(f"decoder-{info.name}", partial(decoder_target, info.name),
                     f"{info.title} public decoder on its live session")
             for info in venues()]
    found += [Harness(f"private-{info.name}", partial(private_target, info.name),
                      f"{info.title} private-stream decoder")
              for info in venues() if private_stream(info.name) is not None]
    found += [Harness("decimal", decimal_target, "fixedpoint.to_fixed vs Decimal"),
              Harness("inflate", inflate_target, "listener gzip/deflate vs zlib"),
              Harness("frames", frames_target, "listener frame reassembly vs RFC 6455 model")]
    return found


def harness(name: str) -> Harness:
    for found in harnesses():
        if found.name == name:
            return found
    raise KeyError(f"no harness {name!r}; known: {', '.join(h.name for h in harnesses())}")


__all__ = ["BrokenInvariant", "Harness", "Target", "harness", "harnesses"]

"""Redis Streams: every row XADDed (pipelined, a pass at a time) to one stream per
venue/channel/symbol, ``<prefix>:<venue>:<channel>:<symbol>``, trimmed with ``MAXLEN ~``, and
read back as typed events by ``StreamConsumer``.

A row is written when Redis answers its XADD with the entry's id, and only then. Any other
answer (an error reply: OOM past ``maxmemory``, READONLY from a replica, LOADING after a
restart, any ``ResponseError``) or none (the connection failed) is a refusal: the entry is sent
again with backoff, for up to ``retry_for`` seconds from its first refusal, then counted lost.
Refusals are logged at most once per ``REPORT_INTERVAL`` per kind.

Writes are idempotent, so a retry can never duplicate. Each entry gets an explicit id
``<ms>-<n>``: ``ms`` the row's receive time in ms (floored at the stream's last id, so ids
only grow) and ``n`` the row's number in the ring's write order (a book snapshot's number for
books). The ids are fixed when a pass is built and reused by every retry of it. Redis refuses
an XADD whose id is not above the stream's last one, so when a connection dies mid-pipeline
and the pass is sent again, the entries that did land are refused ("equal or smaller") and
counted as ``duplicates``, and the rest are added: at least once on the wire, exactly once in
the stream. A "duplicate" is read back at its id before it counts as written: when Redis took a
later entry of the stream but refused this one (a refusal that ended mid-pipeline), the entry
is not there and is ``displaced`` to a new id above the stream's top (it then sits after rows
that came after it). This holds while one process writes each stream, which is how shards are
laid out (README, "Sinks and scaling out"). Meanwhile the rows the feed goes on producing wait
in the rings; see ``SinkRunner`` for what happens when an outage outlasts them.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from redis.exceptions import BusyLoadingError, OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

try:
    import hiredis
except ImportError:      # redis-py's own pipeline then
    hiredis = None  # type: ignore[assignment]

from feedhandler.events import Event
from feedhandler.exchanges.base import Channel, Instrument
from feedhandler.net.backoff import Backoff
from feedhandler.sinks.base import REPORT_INTERVAL, RETRY_FOR, Batch, Sink
from feedhandler.sinks.records import event, fields, instrument_from_json, instrument_json

log = logging.getLogger(__name__)

PREFIX = "fh"
MAXLEN = 1_000_000            # entries kept per stream (approximately: MAXLEN ~)
PIPELINE_COMMANDS = 10_000    # XADDs per round trip
REFUSED = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ConnectionError,
           OSError, ResponseError)   # no answer, or an error reply: retried within retry_for
DUPLICATE = "equal or smaller than the target stream top item"
REPLY_CODES: dict[type, str] = {OutOfMemoryError: "OOM", ReadOnlyError: "READONLY",
                                BusyLoadingError: "LOADING"}   # redis-py strips the code


class Entry(NamedTuple):
    stream: str
    id: str
    fields: dict[str, str]
    channel: str


def stream_key(prefix: str, instrument: Instrument, channel: Channel | str) -> str:
    return f"{prefix}:{instrument.venue}:{channel}:{instrument.symbol}"


def instruments_key(prefix: str) -> str:
    """The hash of ``venue:symbol`` -> the instrument's scales, which consumers read."""
    return f"{prefix}:instruments"


def connect(url: str, cluster: bool, **options: Any) -> Any:
    """A client for ``url``: one server, or the Redis Cluster that server belongs to."""
    if cluster:
        return aioredis.RedisCluster.from_url(url, **options)
    return aioredis.from_url(url, **options)


def pack(command: tuple[str, ...]) -> bytes:
    """One command in RESP, packed in C."""
    return hiredis.pack_command(command)  # type: ignore[arg-type]   # the stub wants a 1-tuple


def refusal_kind(reply: BaseException) -> str:
    """What a refusal is, for the log: the error reply's code (OOM, READONLY, LOADING, ...) or
    the exception's type."""
    code = REPLY_CODES.get(type(reply))
    if code is not None:
        return code
    if type(reply) is ResponseError and str(reply):
        return str(reply).split(None, 1)[0]
    return type(reply).__name__


def info_field(reply: Any, name: str) -> Any:
    """A field of an XINFO STREAM reply, parsed (a dict) or raw (a flat list of pairs)."""
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2],
                                                              strict=True)
    for key, value in pairs:
        if (key.decode() if isinstance(key, bytes) else key) == name:
            return value
    return None


class StreamId(NamedTuple):
    ms: int
    seq: int

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"

    @classmethod
    def parse(cls, text: str | bytes) -> StreamId:
        ms, seq = (text.decode() if isinstance(text, bytes) else text).split("-")
        return cls(int(ms), int(seq))


class RefusalReport:
    """Refusals logged per kind: the first of a kind at once, then at most one line per kind
    every ``interval`` seconds with how many there were since."""

    def __init__(self, retry_for: float, interval: float = REPORT_INTERVAL) -> None:
        self.retry_for = retry_for
        self.interval = interval
        self.unreported: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.last: dict[str, float] = {}
        self.told = False      # a refusal was logged: its end will be too
        self.lost = 0          # rows lost since the last line saying so
        self.last_lost = -float("inf")
        self.last_refusal = ""

    def note(self, refusals: Iterable[BaseException], retry_left: float) -> None:
        now = time.monotonic()
        for reply in refusals:
            kind = refusal_kind(reply)
            self.unreported[kind] += 1
            self.examples.setdefault(kind, str(reply) or kind)
        for kind, count in list(self.unreported.items()):
            if now - self.last.get(kind, -float("inf")) >= self.interval:
                log.warning("redis sink: %d writes refused (%s: %s); retrying each for up to "
                            "%.1f s more", count, kind, self.examples.pop(kind), retry_left)
                self.last[kind] = now
                self.told = True
                del self.unreported[kind]

    def rows_lost(self, count: int, last_refusal: BaseException, total: int) -> None:
        self.lost += count
        self.last_refusal = f"{refusal_kind(last_refusal)}: {last_refusal}"
        self.tell_lost(total)

    def tell_lost(self, total: int, final: bool = False) -> None:
        """At most one line per ``interval`` however often passes lose rows; ``final`` (at
        close) tells of the rest."""
        now = time.monotonic()
        if self.lost and (final or now - self.last_lost >= self.interval):
            log.error("redis sink: %d rows lost: Redis refused them for %g s (last: %s); %d "
                      "lost so far", self.lost, self.retry_for, self.last_refusal, total)
            self.lost = 0
            self.last_lost = now
            self.told = True

    def recovered(self) -> None:
        if self.told:
            log.warning("redis sink: Redis takes writes again; every refused row so far was "
                        "written or counted lost")
            self.told = False


class RedisStreamSink(Sink):
    """``url`` is a redis-py URL (``redis://host:port/db``, ``rediss://`` for TLS,
    ``unix://``), of any node when ``cluster`` (a Redis Cluster); or pass ``client``. With
    ``packed`` (and hiredis installed) XADDs go out on a connection of the sink's own, packed
    and parsed by hiredis; otherwise through redis-py's pipeline. An entry Redis refuses or does
    not answer is retried with backoff (``retry_base``..``retry_cap`` seconds) for up to
    ``retry_for`` seconds, then counted lost (``ledger.failed``)."""

    name = "redis"
    settles_rows = True

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = PREFIX,
                 maxlen: int | None = MAXLEN, cluster: bool = False, client: Any = None,
                 packed: bool = True, retry_base: float = 0.05, retry_cap: float = 2.0,
                 retry_for: float = RETRY_FOR) -> None:
        super().__init__()
        if maxlen is not None and maxlen < 1:
            raise ValueError(f"maxlen must be positive or None, got {maxlen}")
        if retry_for < 0:
            raise ValueError(f"retry_for must be >= 0, got {retry_for}")
        self.url = url
        self.cluster = cluster
        self.prefix = prefix
        self.maxlen = maxlen
        self.client = client
        self.owns_client = client is None
        self.packed = packed and hiredis is not None and not cluster and client is None
        self.backoff = Backoff(retry_base, retry_cap, reset_after=0.0)
        self.retry_for = retry_for
        self.last_ids: dict[str, StreamId] = {}
        self.described: set[int] = set()       # instruments already in the instruments hash
        self.connection: RespConnection | None = None
        self.refusals = RefusalReport(retry_for)
        self.counters = {"added": 0, "duplicates": 0, "displaced": 0, "refused": 0,
                         "retries": 0, "lost": 0}

    async def open(self, instruments: Sequence[Instrument]) -> None:
        """Connects and pings once, so that a wrong URL fails at start, not at the first row."""
        await super().open(instruments)
        if self.client is None:
            self.client = connect(self.url, self.cluster)
        await self.client.ping()

    async def close(self) -> None:
        self.refusals.tell_lost(self.counters["lost"], final=True)
        if self.client is not None and self.owns_client:
            await self.client.aclose()
        self.client = None
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def stats(self) -> dict[str, Any]:
        return dict(self.counters)

    async def write(self, batches: list[Batch]) -> None:
        try:
            entries = await self.entries(batches)
        except REFUSED as error:     # a stream's last id or an instrument refused past retry_for
            lost = sum(map(len, batches))
            for batch in batches:
                self.ledger.failed[batch.channel] += len(batch)
            self.counters["lost"] += lost
            self.refusals.rows_lost(lost, error, self.counters["lost"])
            return
        await self.send(entries)

    async def entries(self, batches: list[Batch]) -> list[Entry]:
        """Every row as an ``Entry``, its id fixed here once and for all."""
        rows = [(batch.channel, row) for batch in batches
                for row in fields(batch, self.instruments)]
        keys = {stream_key(self.prefix, instrument, channel) for channel, (instrument, *_) in rows}
        await self._load_last_ids(keys - self.last_ids.keys())
        entries = []
        for channel, (instrument, number, row) in rows:
            if instrument.id not in self.described:
                await self._describe(instrument)
            key = stream_key(self.prefix, instrument, channel)
            last = self.last_ids.get(key, StreamId(0, 0))
            entry_id = StreamId(max(int(row["ts_receive"]) // 1_000_000, last.ms), number)
            if entry_id <= last:
                entry_id = StreamId(last.ms + 1, number)
            self.last_ids[key] = entry_id
            entries.append(Entry(key, str(entry_id), row, channel))
        return entries

    def _above_top(self, entry: Entry) -> Entry:
        """``entry`` with a new id above every id its stream was given."""
        number = StreamId.parse(entry.id).seq
        new_id = StreamId(self.last_ids[entry.stream].ms + 1, number)
        self.last_ids[entry.stream] = new_id
        return entry._replace(id=str(new_id))

    async def _load_last_ids(self, keys: Iterable[str]) -> None:
        """Streams written before (by an earlier run of this shard): ids go on above theirs."""
        for key in keys:
            info = await self._retrying(lambda key=key: self._last_id(key))
            self.last_ids[key] = info

    async def _last_id(self, key: str) -> StreamId:
        try:
            info = await self.client.xinfo_stream(key)
        except ResponseError as error:
            if "no such key" in str(error).lower():
                return StreamId(0, 0)
            raise
        return StreamId.parse(info["last-generated-id"])

    async def _describe(self, instrument: Instrument) -> None:
        await self._retrying(lambda: self.client.hset(
            instruments_key(self.prefix), f"{instrument.venue}:{instrument.symbol}",
            instrument_json(instrument)))
        self.described.add(instrument.id)

    async def send(self, entries: list[Entry]) -> None:
        """XADDs ``entries``, pipelined; each one is counted written once Redis took it (or
        holds it already: a retry of an entry that landed), or failed once refused for
        ``retry_for`` seconds from its first refusal, or from the refusal that cost an earlier
        pipeline of this call its rows (so a backlog of many pipelines waits out an outage
        once, not once per pipeline)."""
        give_up_at: float | None = None
        for start in range(0, len(entries), PIPELINE_COMMANDS):
            give_up_at = await self._send(entries[start:start + PIPELINE_COMMANDS], give_up_at)

    async def _send(self, entries: list[Entry], give_up_at: float | None) -> float | None:
        todo = entries
        refusals = False
        while todo:
            replies = await self._replies([self._xadd(entry) for entry in todo])
            refused: list[tuple[Entry, BaseException]] = []
            duplicates: list[Entry] = []
            written: Counter[str] = Counter()
            for entry, reply in zip(todo, replies, strict=True):
                if not isinstance(reply, BaseException):
                    written[entry.channel] += 1
                elif isinstance(reply, ResponseError) and DUPLICATE in str(reply):
                    duplicates.append(entry)
                else:
                    refused.append((entry, reply))
            self.counters["added"] += sum(written.values())
            if duplicates:
                refused += await self._confirm(duplicates, written)
            self.ledger.written.update(written)
            if not refused:
                give_up_at = None       # through: a later refusal waits afresh
                break
            now = time.monotonic()
            if give_up_at is None:
                give_up_at = now + self.retry_for
            if not refusals:
                refusals = True
                self.ledger.retried.update(entry.channel for entry, _ in refused)
            self.counters["refused"] += len(refused)
            self.refusals.note((reply for _, reply in refused), max(0.0, give_up_at - now))
            if now >= give_up_at:
                self._lose([entry for entry, _ in refused], refused[0][1])
                break
            self.counters["retries"] += 1
            await asyncio.sleep(min(self.backoff.next_delay(), give_up_at - now))
            # each stream's entries in id order, displaced ones (new ids) after the rest
            todo = sorted((entry for entry, _ in refused),
                          key=lambda entry: (entry.stream, StreamId.parse(entry.id)))
        if refusals:
            self.backoff.reset()
            if give_up_at is None:
                self.refusals.recovered()
        return give_up_at

    async def _confirm(self, duplicates: list[Entry],
                       written: Counter[str]) -> list[tuple[Entry, BaseException]]:
        """Each "duplicate" read back at its id: there, or trimmed since it landed (below the
        stream's first entry, in a stream ``MAXLEN`` trimmed: more entries added than it
        holds), it is written (counted into ``written``); otherwise it was refused while a
        later entry landed, and goes again with a new id; unanswered, it stays refused. (A
        refused entry passes for a trimmed one only if a pipeline landed ``maxlen`` entries of
        its stream after it.)"""
        replies = await self._replies([("XRANGE", entry.stream, entry.id, entry.id)
                                       for entry in duplicates])
        refused: list[tuple[Entry, BaseException]] = []
        missing = []
        for entry, reply in zip(duplicates, replies, strict=True):
            if isinstance(reply, BaseException):
                refused.append((entry, reply))
            elif reply:
                written[entry.channel] += 1
                self.counters["duplicates"] += 1
            else:
                missing.append(entry)
        if not missing:
            return refused
        streams = sorted({entry.stream for entry in missing})
        infos = dict(zip(streams, await self._replies(
            [("XINFO", "STREAM", stream) for stream in streams]), strict=True))
        for entry in missing:
            info = infos[entry.stream]
            if isinstance(info, BaseException):
                refused.append((entry, info))
                continue
            first = info_field(info, "first-entry")
            added = info_field(info, "entries-added")      # Redis 7+; before, assumed trimmed
            trimmed = added is None or int(added) > int(info_field(info, "length"))
            if trimmed and first and StreamId.parse(entry.id) < StreamId.parse(first[0]):
                written[entry.channel] += 1
                self.counters["duplicates"] += 1
            else:
                self.counters["displaced"] += 1
                refused.append((self._above_top(entry),
                                ResponseError(f"{DUPLICATE} (displaced)")))
        return refused

    def _lose(self, entries: list[Entry], last_refusal: BaseException) -> None:
        self.ledger.failed.update(entry.channel for entry in entries)
        self.counters["lost"] += len(entries)
        self.refusals.rows_lost(len(entries), last_refusal, self.counters["lost"])

    def _xadd(self, entry: Entry) -> tuple[str, ...]:
        trim = ("MAXLEN", "~", str(self.maxlen)) if self.maxlen is not None else ()
        return ("XADD", entry.stream, *trim, entry.id,
                *[item for pair in entry.fields.items() for item in pair])

    async def _replies(self, commands: list[tuple[str, ...]]) -> list[Any]:
        """Every command's reply in order, an error reply as its exception in place; when no
        reply came (the connection failed), that exception in place of each."""
        try:
            if self.packed:
                return await self._packed([pack(command) for command in commands])
            async with self.client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return await pipe.execute(raise_on_error=False)
        except REFUSED as error:
            return [error] * len(commands)

    async def _packed(self, commands: list[bytes]) -> list[Any]:
        """The pipeline packed by hiredis in C and its replies parsed by hiredis in bulk, on a
        connection of the sink's own: redis-py's pipeline packs and awaits each reply in
        Python, several times the cost of everything else per row. (A cluster client routes
        its own pipelines.)"""
        if self.connection is None:
            self.connection = await RespConnection.open(self.url)
        try:
            return await self.connection.execute(commands)
        except BaseException:
            self.connection.close()
            self.connection = None
            raise

    async def _retrying(self, attempt: Any) -> Any:
        """``attempt()`` until Redis answers it, for up to ``retry_for`` seconds; the last
        refusal is raised after that."""
        give_up_at: float | None = None
        while True:
            try:
                result = await attempt()
            except REFUSED as error:
                now = time.monotonic()
                give_up_at = now + self.retry_for if give_up_at is None else give_up_at
                self.refusals.note((error,), max(0.0, give_up_at - now))
                if now >= give_up_at:
                    raise
                self.counters["retries"] += 1
                await asyncio.sleep(min(self.backoff.next_delay(), give_up_at - now))
                continue
            if give_up_at is not None:
                self.backoff.reset()
            return result


class RespConnection:
    """A bare RESP connection (TCP, TLS with verification, or a unix socket; AUTH and SELECT
    from the URL as redis-py reads it) that writes packed commands at once and parses all
    their replies with one hiredis reader. Any failure leaves it to be closed and reopened."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = hiredis.Reader(replyError=ResponseError)

    @classmethod
    async def open(cls, url: str, timeout: float = 10.0) -> RespConnection:
        options = parse_url(url)
        async with asyncio.timeout(timeout):
            if "path" in options:
                reader, writer = await asyncio.open_unix_connection(options["path"])
            else:
                tls = ssl.create_default_context() if url.startswith("rediss://") else None
                reader, writer = await asyncio.open_connection(
                    options.get("host", "127.0.0.1"), options.get("port", 6379), ssl=tls)
            connection = cls(reader, writer)
            handshake = []
            if options.get("password") is not None:
                handshake.append(pack(("AUTH", *(
                    [options["username"]] if options.get("username") else []),
                    options["password"])))
            if options.get("db"):
                handshake.append(pack(("SELECT", str(options["db"]))))
            try:
                for reply in await connection.execute(handshake):
                    if isinstance(reply, Exception):
                        raise RedisConnectionError(f"Redis refused the connection: {reply}")
            except BaseException:
                connection.close()
                raise
        return connection

    async def execute(self, commands: list[bytes], timeout: float = 30.0) -> list[Any]:
        """Every command's reply, in order; an error reply is a ``ResponseError`` in place."""
        replies: list[Any] = []
        if not commands:
            return replies
        self.writer.writelines(commands)
        async with asyncio.timeout(timeout):
            await self.writer.drain()
            while len(replies) < len(commands):
                data = await self.reader.read(1 << 16)
                if not data:
                    raise RedisConnectionError("Redis closed the connection")
                self.parser.feed(data)
                while (reply := self.parser.gets()) is not False:
                    replies.append(reply)
        return replies

    def close(self) -> None:
        self.writer.close()


class StreamEntry(NamedTuple):
    stream: str
    id: str
    event: Event


class StreamConsumer:
    """Reads feedhandler streams back as typed events (``Trade``, ``Ticker``, ``Candle``,
    ``BookUpdate`` with the snapshot's levels), each with its stream and entry id.

    ``streams`` names them (None: every stream matching ``match``, by default every one under
    ``prefix``, found at ``open``). Without ``group``
    it reads from ``start`` on and remembers where it got to; with ``group`` (and ``consumer``)
    it reads through a consumer group, created at ``start`` when missing, so that several
    consumers share the entries, and ``ack`` acknowledges them.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", streams: Iterable[str] | None = None,
                 *, prefix: str = PREFIX, match: str | None = None, start: str = "0-0",
                 group: str | None = None, consumer: str | None = None,
                 cluster: bool = False, client: Any = None) -> None:
        if group is not None and consumer is None:
            raise ValueError("a consumer group needs a consumer name")
        self.url = url
        self.cluster = cluster
        self.prefix = prefix
        self.match = match or f"{prefix}:*"
        self.start = start
        self.group = group
        self.consumer = consumer
        self.client = client
        self.owns_client = client is None
        self.positions: dict[str, str] = dict.fromkeys(streams or (), start)
        self.discover = streams is None
        self.instruments: dict[str, Instrument] = {}

    async def open(self) -> StreamConsumer:
        if self.client is None:
            self.client = connect(self.url, self.cluster, decode_responses=True)
        if self.discover:
            self.positions = dict.fromkeys(await self.stream_names(), self.start)
        if self.group is not None:
            for stream in self.positions:
                try:
                    await self.client.xgroup_create(stream, self.group, id=self.start,
                                                    mkstream=True)
                except ResponseError as error:
                    if "BUSYGROUP" not in str(error):
                        raise
        return self

    async def close(self) -> None:
        if self.client is not None and self.owns_client:
            await self.client.aclose()
        self.client = None

    async def __aenter__(self) -> StreamConsumer:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def stream_names(self) -> list[str]:
        return sorted([key async for key in self.client.scan_iter(match=self.match,
                                                                  _type="stream")])

    async def read(self, count: int = 1000, block_ms: int | None = None) -> list[StreamEntry]:
        """Up to ``count`` entries per stream; waits up to ``block_ms`` for some when there are
        none (None: does not wait)."""
        if not self.positions:
            return []
        replies = [reply for replies in await asyncio.gather(
            *(self._read(streams, count, block_ms) for streams in self._slot_groups()))
            for reply in replies or ()]
        entries = []
        for stream, items in replies:
            channel, instrument = await self._stream(stream)
            for entry_id, row in items:
                entries.append(StreamEntry(stream, entry_id, event(channel, instrument, row)))
            if items and self.group is None:
                self.positions[stream] = items[-1][0]
        return entries

    async def _read(self, streams: list[str], count: int, block_ms: int | None) -> Any:
        if self.group is None:
            return await self.client.xread({stream: self.positions[stream] for stream in streams},
                                           count=count, block=block_ms)
        return await self.client.xreadgroup(self.group, self.consumer,
                                            dict.fromkeys(streams, ">"), count=count,
                                            block=block_ms)

    def _slot_groups(self) -> list[list[str]]:
        """All streams in one XREAD, or on a Redis Cluster one XREAD per hash slot (a
        command's keys must share a slot there)."""
        keyslot = getattr(self.client, "keyslot", None)
        if keyslot is None:
            return [list(self.positions)]
        groups: dict[int, list[str]] = {}
        for stream in self.positions:
            groups.setdefault(keyslot(stream), []).append(stream)
        return list(groups.values())

    async def ack(self, entries: Iterable[StreamEntry]) -> int:
        """Acknowledges consumer-group entries; returns how many Redis acknowledged."""
        if self.group is None:
            raise RuntimeError("ack is for consumer-group reads")
        by_stream: dict[str, list[str]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.id)
        acked = 0
        for stream, ids in by_stream.items():
            acked += await self.client.xack(stream, self.group, *ids)
        return acked

    async def _stream(self, stream: str) -> tuple[Channel, Instrument]:
        """The channel and instrument a stream's name and the instruments hash describe."""
        venue, channel, symbol = stream[len(self.prefix) + 1:].split(":", 2)
        instrument = self.instruments.get(f"{venue}:{symbol}")
        if instrument is None:
            described = await self.client.hget(instruments_key(self.prefix), f"{venue}:{symbol}")
            if described is None:
                raise LookupError(f"{stream}: {venue}:{symbol} is not in "
                                  f"{instruments_key(self.prefix)}")
            instrument = instrument_from_json(len(self.instruments), described)
            self.instruments[f"{venue}:{symbol}"] = instrument
        return Channel(channel), instrument

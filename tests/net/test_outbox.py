"""Outbox: order kept, overflow refused loudly, partial flushes keep the rest."""

import pytest

from feedhandler.net import Outbox, OutboxFull


def test_flush_sends_in_order_and_empties() -> None:
    outbox = Outbox(capacity=5)
    for n in range(5):
        outbox.put(b"m%d" % n)
    sent: list[bytes] = []
    assert outbox.flush(lambda m: sent.append(m) is None) == 5
    assert sent == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert len(outbox) == 0
    assert outbox.high_water == 5


def test_overflow_raises_and_keeps_what_was_queued() -> None:
    outbox = Outbox(capacity=2)
    outbox.put(b"a")
    outbox.put(b"b")
    with pytest.raises(OutboxFull, match="2 messages"):
        outbox.put(b"c")
    sent: list[bytes] = []
    outbox.flush(lambda m: sent.append(m) is None)
    assert sent == [b"a", b"b"]


def test_a_flush_interrupted_by_a_lost_socket_keeps_the_rest_in_order() -> None:
    outbox = Outbox(capacity=4)
    for m in (b"a", b"b", b"c", b"d"):
        outbox.put(m)
    sent: list[bytes] = []

    def send_two(message: bytes) -> bool:
        if len(sent) == 2:
            return False
        sent.append(message)
        return True

    assert outbox.flush(send_two) == 2
    assert sent == [b"a", b"b"]
    assert list(outbox.messages) == [b"c", b"d"]
    outbox.put(b"e")
    rest: list[bytes] = []
    outbox.flush(lambda m: rest.append(m) is None)
    assert rest == [b"c", b"d", b"e"]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Outbox(capacity=0)

"""ServerClock: the venue's offset learned from a server-time answer or its timestamps."""

from feedhandler.net.clock import ServerClock


def test_learn_takes_the_midpoint_of_the_round_trip() -> None:
    now = [10_000]
    clock = ServerClock(lambda: now[0])
    clock.learn(server_ms=12_050, sent_ms=10_000, received_ms=10_100)
    assert clock.offset_ms == 2_000 and clock.now_ms() == 12_000


def test_observe_only_moves_the_clock_forward_to_what_the_venue_stamped() -> None:
    now = [10_000]
    clock = ServerClock(lambda: now[0])
    clock.observe(10_500)
    assert clock.offset_ms == 500
    clock.observe(10_200)             # an older stamp (latency): no change
    assert clock.offset_ms == 500
    clock.observe(10_900)
    assert clock.now_ms() == 10_900

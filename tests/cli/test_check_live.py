"""``feedhandler check-live`` against the embedded simulators: every venue passes as they are;
a simulator made to misbehave (a silent channel, a gap, a malformed message) fails the channel
it hit, the row naming the channel and the reason; private logins pass or fail by what the
venue answered; bad arguments exit 2."""

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from feedhandler.api import FeedHandler
from feedhandler.cli import check_live, main
from feedhandler.cli.check_live import (
    CheckOptions,
    VenueCheck,
    Verdict,
    authenticated,
    check_venues,
    receive_clock,
    subscribe,
)
from feedhandler.exchanges import venue, venues
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.account import Listing, SimAccount
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.okx import OkxVenue as SimOkx
from feedhandler.sim.testing import until

DURATION = "2"          # seconds: every simulated channel has spoken several times by then


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_every_venue_passes_against_its_simulator(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.json"
    status = main(["check-live", "--simulated", "--duration", "3", "--report", str(report)])
    out = capsys.readouterr().out
    names = [info.name for info in venues()]
    assert last_line(out) == f"check-live: {len(names)} venues, {len(names)} passed, 0 failed"
    assert status == 0
    written = json.loads(report.read_text())
    assert written["simulated"] is True
    assert [v["venue"] for v in written["venues"]] == names
    for result in written["venues"]:
        assert result["passed"], result
        public = [c for c in result["channels"] if c["channel"] in
                  ("ticker", "book", "trades", "ohlcv")]
        assert len(public) == 4 and all(c["verdict"] == "PASS" and c["messages"] > 0
                                        for c in public)
        assert all(c["verdict"] == "SKIP" for c in result["channels"] if c not in public)
    # the exchange timestamps were checked, against the simulators' clocks
    assert all(c["timestamps_checked"] > 0 for v in written["venues"] for c in v["channels"]
               if c["channel"] in ("book", "trades"))


async def run_okx(tamper, duration: float = 2.0) -> VenueCheck:
    [okx] = await check_venues(CheckOptions(("okx",), duration=duration, simulated=True),
                               tamper)
    return okx


async def test_a_silent_channel_fails_and_the_row_says_so() -> None:
    """A channel the venue no longer serves on this URL: subscribed, acknowledged, silent."""
    okx = await run_okx(lambda name, sim: sim.mute(lambda topic: topic.startswith("trades:")))
    trades = okx.channels["trades"]
    assert trades.verdict is Verdict.FAIL
    assert trades.reason == f"silent: no trades message in 2 s on {trades.ws_url}"
    assert trades.ws_url.endswith("/ws/v5/public")
    assert okx.channels["ohlcv"].ws_url.endswith("/ws/v5/business")
    assert {name: c.verdict for name, c in okx.channels.items()
            if name in ("ticker", "book", "ohlcv")} == dict.fromkeys(
                ("ticker", "book", "ohlcv"), Verdict.PASS)
    assert not okx.passed


async def test_a_gap_after_the_book_went_live_fails_the_book() -> None:
    def gap_later(name: str, sim: SimulatedExchange) -> None:
        asyncio.get_running_loop().call_later(1.0, sim.gap, "BTC-USDT")
    okx = await run_okx(gap_later)
    book = okx.channels["book"]
    assert book.verdict is Verdict.FAIL
    assert "withdrawals after going live (first: BTC-USDT: prevSeqId" in book.reason
    assert okx.channels["trades"].verdict is Verdict.PASS


async def test_a_message_that_does_not_decode_fails_the_channels_of_its_connection() -> None:
    def malformed_later(name: str, sim: SimulatedExchange) -> None:
        asyncio.get_running_loop().call_later(1.0, sim.malformed)
    okx = await run_okx(malformed_later)
    failed = {name for name, c in okx.channels.items() if c.verdict is Verdict.FAIL}
    assert failed and failed <= {"ticker", "book", "trades", "ohlcv"}
    assert all("decode errors" in okx.channels[name].reason for name in failed)


def test_the_command_prints_the_failing_row_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    checked = check_live.check_venues

    async def with_a_silent_ticker(options, tamper=None):
        return await checked(options, lambda name, sim: sim.mute(
            lambda topic: topic.startswith("tickers:")))
    monkeypatch.setattr(check_live, "check_venues", with_a_silent_ticker)
    monkeypatch.chdir(tmp_path)
    status = main(["check-live", "--simulated", "--venue", "okx", "--duration", DURATION,
                   "--record", str(tmp_path / "rec")])
    out = capsys.readouterr().out
    assert status == 1
    assert last_line(out) == "check-live: 1 venues, 0 passed, 1 failed"
    [row] = [line for line in out.splitlines() if line.startswith("okx") and " ticker " in line]
    assert row.split()[:3] == ["okx", "ticker", "FAIL"]
    assert "silent: no ticker message in 2 s" in row
    [report] = tmp_path.glob("check-live-*.json")
    assert json.loads(report.read_text())["venues"][0]["passed"] is False
    [recording] = (tmp_path / "rec").glob("check-live*.fhrec")
    assert recording.stat().st_size > 1000      # two seconds of OKX's traffic, compressed


@pytest.mark.parametrize(("argv", "message"), [
    (["check-live", "--duration", "0"], "argument --duration: must be a positive number"),
    (["check-live", "--venue", "nowhere"], "unknown exchange 'nowhere'"),
    (["check-live", "--symbol", "BTC USDT"], "is not a symbol such as BTC-USDT"),
])
def test_bad_arguments_exit_2(argv: list[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unwritable_record_directory_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    assert main(["check-live", "--simulated", "--record", str(tmp_path / "file" / "rec")]) == 1
    assert "cannot write to" in capsys.readouterr().err


KEY, SECRET, PASSPHRASE = "check-live-okx-key", "check-live-okx-secret", "check-live-pass"


@pytest.mark.parametrize(("passphrase", "verdict", "reason"), [
    (PASSPHRASE, Verdict.PASS, "authenticated"),
    ("not-the-passphrase", Verdict.FAIL, "authentication refused"),
    (None, Verdict.SKIP, "not checked: no credentials given and FEEDHANDLER_OKX_API_KEY"),
])
async def test_private_channels_pass_on_an_accepted_login_only(
        passphrase: str | None, verdict: Verdict, reason: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Read-only: orders and balance are subscribed with the environment's credentials and
    pass once the venue accepted the login."""
    for name in ("API_KEY", "API_SECRET", "API_PASSPHRASE"):
        monkeypatch.delenv(f"FEEDHANDLER_OKX_{name}", raising=False)
    if passphrase is not None:
        monkeypatch.setenv("FEEDHANDLER_OKX_API_KEY", KEY)
        monkeypatch.setenv("FEEDHANDLER_OKX_API_SECRET", SECRET)
        monkeypatch.setenv("FEEDHANDLER_OKX_API_PASSPHRASE", passphrase)
    account = SimAccount((Listing("BTC-USDT", "BTC", "USDT", Decimal("60000.0"),
                                  Decimal("0.1"), Decimal("0.00001")),),
                         {"BTC": Decimal("1"), "USDT": Decimal("1000")}, seed=1)
    sim_venue = SimOkx(symbols=["BTC-USDT"], account=account,
                       api_keys={KEY: (SECRET, PASSPHRASE)})
    async with SimulatedExchange(sim_venue, rate=200.0) as sim:
        fh = FeedHandler(endpoints={"okx": {"ws_url": sim.ws_url, "rest_url": sim.http_url}},
                         backoff_base=0.05, backoff_cap=0.2)
        check = VenueCheck(venue("okx"), ("BTC-USDT",), 10.0, receive_clock)
        subscribe(fh, check, private=True)
        async with fh:
            if passphrase is not None:
                await until(lambda: sim_venue.login_replies)
            await asyncio.sleep(0.5)
            await authenticated(fh, [check])
            check.judge(fh, 0.5)
    for channel in ("orders", "balance"):
        assert check.channels[channel].verdict is verdict
        assert check.channels[channel].reason.startswith(reason)


async def test_a_venue_speaking_the_retired_protocol_fails_naming_the_channels(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Binance USD-M's simulator speaks the protocol retired on 2026-04-23 (one `/stream` URL,
    no `/public` and `/market` tiers): every channel FAILs, its row naming the tier URL the
    client dialled and why nothing came (the dial refused with 404)."""
    def legacy(name: str, market: str | None = None, symbols=None):  # type: ignore[no-untyped-def]
        return SimBinance(market or "spot", symbols=tuple(symbols or ()), protocol="legacy")
    monkeypatch.setattr(check_live, "create_venue", legacy)
    [usdm] = await check_venues(CheckOptions(("binance-usdm",), duration=2.0, simulated=True))
    assert not usdm.passed
    for channel, tier in (("book", "/public/"), ("ticker", "/public/"), ("trades", "/market/"),
                          ("ohlcv", "/market/")):
        check = usdm.channels[channel]
        assert check.verdict is Verdict.FAIL, channel
        assert check.reason.startswith(f"silent: no {channel} message in 2 s on "), check.reason
        assert tier in check.ws_url and "404" in check.reason, check.reason

"""The strict ``[[price, size, ...], ...]`` scanner of core/jsonread.pxd, driven through the
Binance snapshot loader (every venue decoder shares the same inline scanner)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.core.book import ASK, BID, OrderBook
from feedhandler.core.decoder import DecodeError
from feedhandler.core.fixedpoint import DecimalError, to_fixed_rounded
from feedhandler.exchanges.binance.decoder import BinanceDecoder

ASKS = b'[["2.0","1"]]'


def load(bids: bytes, asks: bytes = ASKS, tail: bytes = b"") -> OrderBook:
    decoder = BinanceDecoder()
    book = OrderBook(2, 3)
    slot = decoder.add_instrument("BNBBTC", 1, 2, 3, book)
    decoder.apply_snapshot(slot, b'{"bids":' + bids + b',"asks":' + asks
                           + b',"lastUpdateId":7' + tail + b"}")
    return book


def levels(book: OrderBook, side: int) -> list[tuple[int, int]]:
    prices, sizes = book.levels(side)
    return list(zip(prices.tolist(), sizes.tolist(), strict=True))


@pytest.mark.parametrize(
    ("bids", "expected"),
    [
        (b'[["1.5","2"]]', [(150, 2000)]),
        (b'[["1.5","2"],["1.25","0.5"]]', [(150, 2000), (125, 500)]),
        (b"[[1.5,2],[1.25,0.5]]", [(150, 2000), (125, 500)]),              # HTX: bare numbers
        (b'[["1.5","2","0","3"]]', [(150, 2000)]),                          # OKX: 4 elements
        (b'[["1.5","2",true,null,false,-1e3,"x\\"y"]]', [(150, 2000)]),    # scalar extras
        (b'[[1.5e0,"2E-0"]]', [(150, 2000)]),                              # exponent forms
        (b' [ [ "1.5" , "2" ] ,\n\t[\r"1"\n,\t1 ] ] ', [(150, 2000), (100, 1000)]),
        (b"[]", []),
        (b"[ ]", []),
        (b'[["1.5","2"],["1.5","0"]]', []),                                 # size 0 deletes
    ],
)
def test_accepts_every_level_shape(bids: bytes, expected: list[tuple[int, int]]) -> None:
    book = load(bids)
    assert levels(book, BID) == expected
    assert levels(book, ASK) == [(200, 1000)]
    assert book.sequence == 7      # the field after the arrays was still read


@pytest.mark.parametrize(
    "bids",
    [
        b'[["1.5"]]',                      # no size
        b"[[]]",
        b'[["1.5","2"],]',                  # trailing comma
        b'[,["1.5","2"]]',
        b'[["1.5","2"]["1","1"]]',          # missing comma
        b'[["1.5" "2"]]',
        b'[["1.5","2",]]',
        b'[["1.5","2",["nested"]]]',        # extras must be scalars
        b'[["1.5","2",{"a":1}]]',
        b'[[["1.5"],"2"]]',
        b'["1.5","2"]',                     # flat, not pairs
        b'[{"p":"1.5","s":"2"}]',
        b'[["1.5","2"],"x"]',
        b'"[]"',                             # a string, not an array
        b"7",
        b"null",
        b'[["1.5","2"]x]',
        b'[["1.5","2"],[1,2]y]',
        b'[["1.5" ,"2"],[truex,1]]',
        b'[["1.5","2",tru]]',
        b'[["abc","2"]]',                   # not decimals
        b'[["1.5","2x"]]',
        b'[[" 1.5","2"]]',                  # no whitespace inside the quotes
        b'[["1.5","2 "]]',
        b'[["1\\u002e5","2"]]',             # escapes are never decimals
        b'[["1.5,"2"]]',
        b'[["","2"]]',
        b"[[1.5,+2]]",
        b"[[.5,2]]",
        b"[[1.5,2.]]",
        b"[[0x10,2]]",
        b'[["1.555","2"]]',                 # more precise than the price scale
        b'[["99999999999999999999","2"]]',  # overflow
        b'[["1e30","2"]]',
    ],
)
def test_rejects_anything_else(bids: bytes) -> None:
    with pytest.raises(DecodeError):
        load(bids)


def test_a_rejected_level_is_not_malformed() -> None:
    with pytest.raises(DecodeError):
        load(b'[["-1.5","2"]]')     # parsed, then refused by the book (price <= 0)


@pytest.mark.parametrize("cut", range(1, 20))
def test_truncated_levels_never_read_past_the_message(cut: int) -> None:
    whole = b'{"bids":[["1.5","2","0","3"]],"asks":[["2.0","1"]],"lastUpdateId":7}'
    with pytest.raises(DecodeError):
        decoder = BinanceDecoder()
        slot = decoder.add_instrument("BNBBTC", 1, 2, 3, OrderBook(2, 3))
        decoder.apply_snapshot(slot, whole[: 8 + cut])


def test_a_longer_earlier_message_left_in_the_buffer_is_not_read() -> None:
    # feed_many reuses one buffer: the bytes past a short message are the previous message's
    decoder = BinanceDecoder()
    book = OrderBook(2, 3)
    slot = decoder.add_instrument("BNBBTC", 1, 2, 3, book)
    decoder.apply_snapshot(slot, b'{"bids":[["1.0","1"]],"asks":[["2.0","1"]],"lastUpdateId":1}')
    long = (b'{"e":"depthUpdate","E":1,"s":"BNBBTC","U":2,"u":2,"b":[["1.1","1"],["1.2","1"]],'
            b'"a":[]}')
    short = b'{"e":"depthUpdate","E":1,"s":"BNBBTC","U":3,"u":3,"b":[["1.3","1"'
    flags = decoder.feed_many([long, short])
    assert flags & 32                     # DECODED_ERROR: the short one is malformed


def test_fields_after_the_levels_are_still_decoded() -> None:
    decoder = BinanceDecoder()
    book = OrderBook(2, 3)
    slot = decoder.add_instrument("BNBBTC", 1, 2, 3, book)
    decoder.apply_snapshot(slot, b'{"bids":[["1.0","1"]],"asks":[["2.0","1"]],"lastUpdateId":1}')
    flags = decoder.feed(b'{"e":"depthUpdate","s":"BNBBTC","U":2,"u":2,"b":[["1.1","1"]],'
                         b'"a":[["1.9","2"]],"E":1700000000000}')
    assert flags == 8                      # DECODED_BOOKS only
    assert book.ts_exchange == 1_700_000_000_000_000_000
    assert levels(book, BID)[0] == (110, 1000)
    assert levels(book, ASK)[0] == (190, 2000)


@pytest.mark.parametrize("digits", range(1, 17))
def test_closing_quote_found_at_every_offset(digits: int) -> None:
    size = "1" + "0" * (digits - 1)            # 1..16 characters: the quote at every position
    book = load(f'[["1.5","{size}"],["1.25","{size}.0"]]'.encode())
    assert levels(book, BID) == [(150, int(size) * 1000), (125, int(size) * 1000)]


DECIMAL_TEXT = st.one_of(
    st.from_regex(r"\A-?[0-9]{0,21}(\.[0-9]{0,12})?([eE][+-]?[0-9]{1,2})?\Z"),
    st.from_regex(r"\A[0-9]{1,20}\.[0-9]{1,12}\Z"),      # the fast path's shape, and past it
    st.text(alphabet="0123456789.-+eE x", max_size=12),
)


def fixed_or_none(text: str, scale: int) -> int | None:
    """What a decoder reads for a size: rounded half-even past the scale, None if refused."""
    try:
        return to_fixed_rounded(text, scale)[0]
    except DecimalError:
        return None


@settings(max_examples=600, deadline=None)
@given(text=DECIMAL_TEXT, scale=st.integers(0, 12), quoted=st.booleans())
def test_scanner_agrees_with_parse_decimal(text: str, scale: int, quoted: bool) -> None:
    """The scanner's one-pass conversion gives parse_decimal's value, or refuses with it."""
    expected = fixed_or_none(text if quoted else text.strip(" "), scale)
    token = f'"{text}"' if quoted else text
    decoder = BinanceDecoder()
    book = OrderBook(0, scale)
    slot = decoder.add_instrument("BNBBTC", 1, 0, scale, book)
    body = f'{{"bids":[["1",{token}]],"asks":[],"lastUpdateId":7}}'.encode()
    try:
        decoder.apply_snapshot(slot, body)
    except DecodeError:
        # refused: not a decimal, or a negative size, or (bare) not a JSON number
        assert expected is None or expected < 0 or not quoted
        return
    assert expected is not None and expected >= 0
    assert levels(book, BID) == ([(1, expected)] if expected else [])


@settings(max_examples=600, deadline=None)
@given(text=DECIMAL_TEXT, scale=st.integers(0, 12), quoted=st.booleans(),
       space=st.sampled_from(["", " ", "\n\t "]))
def test_field_reader_agrees_with_parse_decimal(text: str, scale: int, quoted: bool,
                                                space: str) -> None:
    """read_decimal (a field's raw token, parse_json_decimal) gives the same results."""
    expected = fixed_or_none(text if quoted else text.strip(" "), scale)
    token = f'"{text}"' if quoted else text
    decoder = BinanceDecoder()
    decoder.add_instrument("BNBBTC", 1, scale, 0)
    flags = decoder.feed(f'{{"e":"trade","E":1,"s":"BNBBTC","t":1,"p":{token}{space},"q":"1",'
                         f'"T":1,"m":true}}'.encode())
    rows = decoder.trades.reader(from_start=True).read()
    if flags & 32:
        assert expected is None or not quoted      # bare text may not be a JSON number
        assert len(rows.price) == 0
        return
    assert expected is not None and rows.price.tolist() == [expected]

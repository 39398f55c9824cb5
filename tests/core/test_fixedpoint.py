"""Exact decimal text <-> int64 fixed point, checked against Python's Decimal."""

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.core import fixedpoint
from feedhandler.core.fixedpoint import DecimalError, to_fixed, to_fixed_rounded, to_text

INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("0.00100000", 8, 100_000),       # Binance: always 8 decimals
        ("0.001", 3, 1),
        ("30000.12000000", 2, 3_000_012),  # trailing zeros beyond the scale are fine
        ("1e-5", 8, 1000),                # exponent forms (Kraken v2 sends JSON numbers)
        ("1E-5", 8, 1000),
        ("1.5e+2", 0, 150),
        ("2.5E2", 1, 2500),
        ("42", 0, 42),
        ("42", 8, 4_200_000_000),
        ("-12.5", 2, -1250),              # negative where allowed (funding, PnL)
        ("-0", 8, 0),
        ("0", 0, 0),
        ("0.0", 8, 0),
        ("000123.4500", 2, 12345),
        ("92233720368.54775807", 8, INT64_MAX),
        ("-92233720368.54775807", 8, -INT64_MAX),
        ("0.000000000000000001", 18, 1),
        ("123456789012345678.9", 1, 1_234_567_890_123_456_789),
        # the digits.digits fast path and its boundaries
        ("1234567890.123456789", 9, 1_234_567_890_123_456_789),   # 19 digits in all
        ("12345678901.234567890", 8, 1_234_567_890_123_456_789),  # 20 digits: general path
        ("9", 18, 9 * 10**18),
        ("0", 18, 0),
        ("1.50", 1, 15),                  # fraction longer than the scale: general path
        ("0.12345678", 8, 12_345_678),    # eight fraction digits in one SWAR step
        ("7.123456789012", 12, 7_123_456_789_012),
        ("00000000000000000000001.5", 1, 15),
    ],
)
def test_parses_every_form_venues_send(text: str, scale: int, expected: int) -> None:
    assert to_fixed(text, scale) == expected
    assert to_fixed(text.encode(), scale) == expected


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("", fixedpoint.EMPTY),
        ("-", fixedpoint.MALFORMED),
        (".5", fixedpoint.MALFORMED),
        ("5.", fixedpoint.MALFORMED),
        ("1e", fixedpoint.MALFORMED),
        ("1e+", fixedpoint.MALFORMED),
        ("abc", fixedpoint.MALFORMED),
        ("1.2.3", fixedpoint.MALFORMED),
        ("--1", fixedpoint.MALFORMED),
        ("+1", fixedpoint.MALFORMED),
        (" 1", fixedpoint.MALFORMED),
        ("1 ", fixedpoint.MALFORMED),
        ("0x10", fixedpoint.MALFORMED),
        ("NaN", fixedpoint.MALFORMED),
        ("inf", fixedpoint.MALFORMED),
        ("1,5", fixedpoint.MALFORMED),
        ("0.123456789", fixedpoint.TOO_PRECISE),
        ("1e-9", fixedpoint.TOO_PRECISE),
        ("92233720368.54775808", fixedpoint.OVERFLOW),
        ("99999999999999999999", fixedpoint.OVERFLOW),
        ("1e30", fixedpoint.OVERFLOW),
        ("92233720368.5477581", fixedpoint.OVERFLOW),   # 19 digits, fast path, too large
        ("1.5x", fixedpoint.MALFORMED),
        ("1.2345678x", fixedpoint.MALFORMED),
        ("12345678.1234567x", fixedpoint.MALFORMED),
        ("1.1.", fixedpoint.MALFORMED),
    ],
)
def test_rejects_garbage_with_a_typed_error(text: str, status: int) -> None:
    with pytest.raises(DecimalError) as info:
        to_fixed(text, 8)
    assert info.value.status == status
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("value", "scale", "digits", "expected"),
    [
        (100_000, 8, -1, "0.001"),
        (100_000, 8, 8, "0.00100000"),
        (-1250, 2, -1, "-12.5"),
        (5, 0, -1, "5"),
        (0, 8, -1, "0"),
        (0, 2, 2, "0.00"),
        (INT64_MAX, 8, -1, "92233720368.54775807"),
        (-(2**63), 0, -1, "-9223372036854775808"),
        (12345, 2, 4, "123.4500"),
    ],
)
def test_formats_exact_text(value: int, scale: int, digits: int, expected: str) -> None:
    assert to_text(value, scale, digits) == expected


def test_scale_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError):
        to_fixed("1", 19)
    with pytest.raises(ValueError):
        to_text(1, -1)


def reference(text: str, scale: int) -> int | None:
    scaled = Decimal(text).scaleb(scale)
    if scaled != scaled.to_integral_value() or abs(scaled) > INT64_MAX:
        return None
    return int(scaled)


decimal_text = st.builds(
    lambda sign, integer, fraction, exponent: (
        sign + integer + (f".{fraction}" if fraction else "") + exponent
    ),
    st.sampled_from(["", "-"]),
    st.from_regex(r"[0-9]{1,22}", fullmatch=True),
    st.one_of(st.just(""), st.from_regex(r"[0-9]{1,30}", fullmatch=True)),
    st.one_of(st.just(""), st.from_regex(r"[eE][+-]?[0-9]{1,2}", fullmatch=True)),
)


@settings(max_examples=3000, deadline=None)
@given(decimal_text, st.integers(0, 18))
def test_matches_decimal_reference(text: str, scale: int) -> None:
    expected = reference(text, scale)
    if expected is None:
        with pytest.raises(DecimalError) as info:
            to_fixed(text, scale)
        assert info.value.status in (fixedpoint.TOO_PRECISE, fixedpoint.OVERFLOW)
    else:
        assert to_fixed(text, scale) == expected


@settings(max_examples=3000, deadline=None)
@given(st.from_regex(r"[0-9]{1,12}(\.[0-9]{1,12})?", fullmatch=True), st.integers(0, 18))
def test_venue_shape_matches_decimal_reference(text: str, scale: int) -> None:
    """The plain ``digits.digits`` shape venues send, which takes parse_decimal's fast path."""
    expected = reference(text, scale)
    if expected is None:
        with pytest.raises(DecimalError) as info:
            to_fixed(text, scale)
        assert info.value.status in (fixedpoint.TOO_PRECISE, fixedpoint.OVERFLOW)
    else:
        assert to_fixed(text, scale) == expected


@settings(max_examples=2000, deadline=None)
@given(st.integers(-INT64_MAX, INT64_MAX), st.integers(0, 18))
def test_text_round_trips(value: int, scale: int) -> None:
    shortest = to_text(value, scale)
    assert to_fixed(shortest, scale) == value
    assert Decimal(shortest) == Decimal(value).scaleb(-scale)
    padded = to_text(value, scale, scale)
    assert to_fixed(padded, scale) == value
    assert len(padded.split(".")[1]) == scale if scale else "." not in padded


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=40))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        value = to_fixed(raw, 8)
    except DecimalError:
        return
    assert reference(raw.decode(), 8) == value


# ---- rounding: what decoders read past a field's scale --------------------------------------

@pytest.mark.parametrize("text, scale, value", [
    ("338177.27271633345", 8, 33817727271633),     # HTX's float-printed trade amount
    ("0.125", 2, 12), ("0.135", 2, 14),             # ties go to the even neighbour
    ("0.1250000000000000000000001", 2, 13),         # a tie broken by a digit far past it
    ("-0.125", 2, -12), ("-0.135", 2, -14), ("-0.1251", 2, -13),
    ("2.5", 0, 2), ("3.5", 0, 4), ("-2.5", 0, -2),
    ("9.9999999995", 9, 10_000_000_000),            # the carry runs through every digit
    ("0.999999999999999999999", 18, 10**18),
    ("1.5e-3", 3, 2), ("2.5e-3", 3, 2), ("1.23456E+2", 2, 12346),   # exponents
    ("4e-19", 18, 0), ("6e-19", 18, 1), ("1e-400", 8, 0),
    ("1.2345678901234567890123456789", 18, 1234567890123456789),   # > 19 digits
    ("9223372036854775807.4", 0, 2**63 - 1),        # int64's largest, from below
])
def test_values_past_the_scale_round_half_even_and_say_so(text: str, scale: int,
                                                          value: int) -> None:
    assert to_fixed_rounded(text, scale) == (value, True)
    with pytest.raises(DecimalError, match="more decimals than the scale"):
        to_fixed(text, scale)                       # the exact parser (book keys) refuses


@pytest.mark.parametrize("text, scale, value", [
    ("0.01000000", 2, 1), ("12", 2, 1200), ("-7.50", 1, -75), ("1e2", 0, 100),
    ("2.5E-1", 2, 25),
])
def test_exact_values_are_not_flagged(text: str, scale: int, value: int) -> None:
    assert to_fixed_rounded(text, scale) == (value, False) == (to_fixed(text, scale), False)


@pytest.mark.parametrize("text, scale", [
    ("9223372036854775807.5", 0),                   # rounds up past int64
    ("92233720368.547758075", 8),
    ("-9223372036854775808", 0), ("1e19", 0), ("123456789012345678901234567890", 0),
    ("1" * 50 + ".5", 0),
])
def test_values_that_do_not_fit_int64_are_a_clear_error(text: str, scale: int) -> None:
    with pytest.raises(DecimalError, match="does not fit"):
        to_fixed_rounded(text, scale)


@pytest.mark.parametrize("text", ["", "-", "1.", ".5", "1e", "1.2.3", "abc", "1,5", "--1"])
def test_rounding_never_accepts_what_is_not_a_number(text: str) -> None:
    with pytest.raises(DecimalError):
        to_fixed_rounded(text, 8)


@settings(max_examples=2000, deadline=None)
@given(digits=st.text("0123456789", min_size=1, max_size=30),
       point=st.integers(0, 30), negative=st.booleans(), exponent=st.integers(-25, 25),
       with_exponent=st.booleans(), scale=st.integers(0, 18))
def test_rounding_agrees_with_decimal_half_even(digits: str, point: int, negative: bool,
                                                exponent: int, with_exponent: bool,
                                                scale: int) -> None:
    point = min(point, len(digits))
    text = ("-" if negative else "") + digits[:point or 1] + (
        "." + digits[point:] if point and digits[point:] else "")
    if with_exponent:
        text += f"e{exponent}"
    with localcontext() as context:
        context.prec = 200
        exact = Decimal(text).scaleb(scale)
        expected = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
    if abs(expected) > 2**63 - 1 or (expected == -(2**63)):
        with pytest.raises(DecimalError):
            to_fixed_rounded(text, scale)
        return
    value, inexact = to_fixed_rounded(text, scale)
    assert value == expected
    assert inexact == (exact != expected)

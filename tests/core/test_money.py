"""Money as integers: Z$ parsed exactly into micro-units, written back with the contract's 6 places,
and the top-up rule's integer arithmetic equal to the decimal arithmetic it replaced."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import Z_MICRO_MAX, ZAmountInvalid, exceeds_share, times, z_format, z_to_micro


@pytest.mark.parametrize(
    ("value", "micro"),
    [
        ("60", 60_000_000),
        ("1105.6", 1_105_600_000),
        ("0.000001", 1),
        ("-44.4", -44_400_000),
        (12, 12_000_000),
    ],
)
def test_z_amounts_parse_exactly_to_micro_units(value, micro):
    assert z_to_micro(value) == micro
    assert z_to_micro(Decimal(value)) == micro


@pytest.mark.parametrize(
    "value", ["0.0000001", "1.1234567", "abc", "NaN", "Infinity", "1e999999999", 1.1, "1e13"]
)
def test_more_than_six_places_or_not_a_number_or_too_large_is_a_422(value):
    with pytest.raises(ZAmountInvalid) as refused:
        z_to_micro(value)
    assert (refused.value.status, refused.value.code) == (422, "z_amount_invalid")


@pytest.mark.parametrize(
    ("micro", "text"),
    [(60_000_000, "60.000000"), (0, "0.000000"), (1, "0.000001"), (-44_400_000, "-44.400000"),
     (Z_MICRO_MAX, "1000000000000.000000")],
)  # fmt: skip
def test_z_is_written_with_exactly_six_places(micro, text):
    assert z_format(micro) == text


@given(
    micro=st.integers(min_value=-Z_MICRO_MAX, max_value=Z_MICRO_MAX),
)
def test_writing_and_reading_z_round_trips(micro):
    assert z_to_micro(z_format(micro)) == micro
    assert Decimal(z_format(micro)) == Decimal(micro).scaleb(-6)


@given(
    gap=st.integers(min_value=1, max_value=10**9),
    markup=st.decimals(min_value=0, max_value=10, places=9, allow_nan=False, allow_infinity=False),
)
def test_top_up_price_equals_the_decimal_rule_rounded_half_even(gap, markup):
    """What redemption_price computed before: (gap * (1 + markup)).quantize(0.000001)."""
    decimal_rule = (Decimal(gap) * (1 + markup)).quantize(Decimal("0.000001"))
    assert times(gap * 10**6, 1 + markup) == int(decimal_rule.scaleb(6))


@given(
    part=st.integers(min_value=0, max_value=10**9),
    whole=st.integers(min_value=0, max_value=10**9),
    share=st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False),
)
def test_share_comparison_is_exact(part, whole, share):
    assert exceeds_share(part, whole, share) == (part > Decimal(whole) * share)

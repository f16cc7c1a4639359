"""Money in major units for people, minor units underneath: exact, per currency exponent."""

from decimal import Decimal

import pytest

from common.money import (
    InvalidMoney,
    MoneyField,
    currency_exponent,
    format_money,
    parse_money,
    to_major,
)


def test_exponents_come_from_the_currency():
    assert (currency_exponent("INR"), currency_exponent("JPY"), currency_exponent("KWD")) == (
        2,
        0,
        3,
    )


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("100.50", "INR", 10050),
        ("100.5", "INR", 10050),
        ("100", "INR", 10000),
        ("0.01", "INR", 1),
        (" 499.00 ", "INR", 49900),
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("999999999.99", "INR", 99999999999),
    ],
)
def test_parse_converts_major_units_exactly(text, currency, minor):
    assert parse_money(text, currency) == minor
    assert isinstance(parse_money(text, currency), int)


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("100.505", "INR", "at most 2 decimal"),
        ("10.5", "JPY", "no decimals"),
        ("1.2345", "KWD", "at most 3 decimal"),
        ("-1", "INR", "Enter an amount"),
        ("+1", "INR", "Enter an amount"),
        ("1e3", "INR", "Enter an amount"),
        ("1,000", "INR", "Enter an amount"),
        ("100,50", "INR", "Enter an amount"),
        ("₹100", "INR", "Enter an amount"),
        ("100.", "INR", "Enter an amount"),
        (".5", "INR", "Enter an amount"),
        ("", "INR", "Enter an amount"),
        ("NaN", "INR", "Enter an amount"),
        ("Infinity", "INR", "Enter an amount"),
        ("١٠٠", "INR", "Enter an amount"),
        ("1.٥", "INR", "Enter an amount"),
        ("1" * 10, "INR", "too large"),
    ],
)
def test_parse_refuses_anything_but_a_plain_amount_of_the_currency(text, currency, message):
    with pytest.raises(InvalidMoney, match=message):
        parse_money(text, currency)


def test_format_shows_major_units_with_the_currency():
    assert format_money(10000, "INR") == "INR 100.00"
    assert format_money(10050, "INR") == "INR 100.50"
    assert format_money(1, "INR") == "INR 0.01"
    assert format_money(123456789, "INR") == "INR 1,234,567.89"
    assert format_money(1500, "JPY") == "JPY 1,500"
    assert format_money(1234, "KWD") == "KWD 1.234"
    assert format_money(None, "INR") == "-"
    assert to_major(10050, "INR") == Decimal("100.50")


def test_format_and_parse_round_trip():
    for minor in (0, 1, 9, 10, 99, 100, 10050, 49900, 123456789):
        shown = str(to_major(minor, "INR"))
        assert parse_money(shown, "INR") == minor


def test_money_field_cleans_to_minor_units_and_enforces_the_minimum():
    field = MoneyField(currency="INR")
    assert field.clean("100.50") == 10050
    with pytest.raises(Exception, match="at most 2 decimal"):
        field.clean("100.505")
    with pytest.raises(Exception, match=r"at least INR 0\.01"):
        field.clean("0.00")
    with pytest.raises(Exception, match="required"):
        field.clean("")
    assert field.prepare_value(10050) == "100.50"  # an initial value in minor units
    assert "INR" in field.help_text
    assert MoneyField(currency="JPY").clean("500") == 500

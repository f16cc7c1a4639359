"""Money for people: integers in minor units underneath, major units on screen and in forms.

The number of decimals of a currency (its ISO 4217 exponent: INR 2, JPY 0, KWD 3) comes
from the CLDR data shipped with Babel, so a new currency needs no table here. Conversions
are exact, with :class:`~decimal.Decimal` and integers only: an amount with more
decimals than its currency has is refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import get_currency_precision
from django import forms

# At most this many digits before the point: far above any booking, far below what an
# integer column holds, so a typo of many zeros is refused instead of stored.
MAX_MAJOR_DIGITS = 9


class InvalidMoney(ValueError):
    """Text that is not an amount of the currency (message fit for the person who typed it)."""


def currency_exponent(currency: str) -> int:
    """Decimals of ``currency`` in its minor unit (``"INR"`` -> 2, ``"JPY"`` -> 0)."""
    return get_currency_precision(currency.upper())


def to_major(amount_minor: int, currency: str) -> Decimal:
    """``10050, "INR"`` -> ``Decimal("100.50")`` (exact, with the currency's decimals)."""
    exponent = currency_exponent(currency)
    return Decimal(int(amount_minor)).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def format_money(amount_minor: int | None, currency: str, *, grouped: bool = True) -> str:
    """``10050, "INR"`` -> ``"INR 100.50"``; thousands grouped unless ``grouped=False``
    (messages and the sandbox page print ``"INR 1234.00"``), ``"-"`` for no amount."""
    if amount_minor is None:
        return "-"
    exponent = currency_exponent(currency)
    separator = "," if grouped else ""
    return f"{currency} {to_major(amount_minor, currency):{separator}.{exponent}f}"


def parse_money(text: str, currency: str) -> int:
    """``"100.50", "INR"`` -> ``10050``. Refuses (:class:`InvalidMoney`) anything but a plain
    non-negative decimal number (no sign, exponent, grouping or currency sign) and more
    decimals than the currency has (``"100.505"`` INR, ``"10.5"`` JPY)."""
    text = (text or "").strip()
    exponent = currency_exponent(currency)
    whole, _, fraction = text.partition(".")
    if not whole.isascii() or not whole.isdigit() or not (fraction == "" or fraction.isdigit()):
        raise InvalidMoney(f"Enter an amount in {currency}, like {_example(exponent)}.")
    if not fraction.isascii() or text.endswith("."):
        raise InvalidMoney(f"Enter an amount in {currency}, like {_example(exponent)}.")
    if len(fraction) > exponent:
        raise InvalidMoney(
            f"{currency} has no smaller unit than {_smallest(exponent)}: "
            f"use at most {exponent} decimal(s)."
            if exponent
            else f"{currency} has no decimals: enter a whole amount."
        )
    if len(whole.lstrip("0")) > MAX_MAJOR_DIGITS:
        raise InvalidMoney(f"That amount of {currency} is too large.")
    return int(Decimal(text).scaleb(exponent))


def _example(exponent: int) -> str:
    return "100" if exponent == 0 else "100." + "5" + "0" * (exponent - 1)


def _smallest(exponent: int) -> str:
    return "0." + "0" * (exponent - 1) + "1"


class MoneyField(forms.CharField):
    """A form field in major units of ``currency`` whose cleaned value is an ``int`` in
    minor units (``"100.50"`` INR -> ``10050``), at least ``min_minor``."""

    def __init__(self, *, currency: str, min_minor: int = 1, **kwargs):
        self.currency = currency
        self.min_minor = min_minor
        example = _example(currency_exponent(currency))
        kwargs.setdefault("help_text", f"In {currency}, e.g. {example}.")
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "size": 12})

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            amount = parse_money(value, self.currency)
        except InvalidMoney as exc:
            raise forms.ValidationError(str(exc), code="invalid_money") from None
        if amount < self.min_minor:
            raise forms.ValidationError(
                f"Enter at least {format_money(self.min_minor, self.currency)}.", code="min_money"
            )
        return amount

    def prepare_value(self, value):
        # An initial value is minor units; bound data is what was typed.
        if isinstance(value, int):
            return str(to_major(value, self.currency))
        return value

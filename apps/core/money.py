"""Money sizes and rounding, one place for the whole portal."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

# Amounts (totals, credit limits, invoice amounts): up to 10^12 with 2 decimals at most currencies.
AMOUNT_MAX_DIGITS = 16
AMOUNT_DECIMAL_PLACES = 2
# Unit prices carry 4 decimals, as Tryton's default price digits do.
PRICE_MAX_DIGITS = 16
PRICE_DECIMAL_PLACES = 4
QUANTITY_MAX_DIGITS = 16
QUANTITY_DECIMAL_PLACES = 4
DEFAULT_CURRENCY = "USD"

# Tryton rounds amounts half-even (currency.round); so do we, so the ERP invoices what we show.
ROUNDING = ROUND_HALF_EVEN
_CURRENCY_EXPONENTS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}


def currency_exponent(currency: str) -> int:
    return _CURRENCY_EXPONENTS.get(currency.upper(), AMOUNT_DECIMAL_PLACES)


def quantize_amount(value: Decimal, currency: str = DEFAULT_CURRENCY) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-currency_exponent(currency)), rounding=ROUNDING)


# The largest amount an amount column holds: 10^(digits - places) - 0.01 (99,999,999,999,999.99).
AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES)


def amount_fits(value: Decimal) -> bool:
    """Whether an amount can be stored in an amount column (checked before saving, so an overflow is a
    clear refusal rather than a database error)."""
    return value.is_finite() and abs(value) < AMOUNT_LIMIT


def quantize_price(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-PRICE_DECIMAL_PLACES), rounding=ROUNDING)

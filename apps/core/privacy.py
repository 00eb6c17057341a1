"""Masking of personal data where it is not needed: logs, webhook payloads, error reports.

One helper set that the structlog masking processor (billing_project.observability.logs, which
adds credentials and a looser phone pattern on top), the stdlib `MaskingFilter` below and the
event / webhook code use, so that "what a masked e-mail looks like" is decided once:

- `mask_email("ada.obi@example.com")` -> `"a***@example.com"` (the domain stays: it is what
  support needs to tell a bounce from a typo);
- `mask_phone("+2348012345678")` -> `"+234*******678"` (country code and last 3 digits);
- `mask_card("4242 4242 4242 4242")` -> `"************4242"` (PCI DSS allows the last 4);
- `mask_text(s)` finds e-mail addresses, card numbers (13-19 digits passing Luhn) and
  E.164-ish phone numbers inside free text and masks each;
- `mask_data(obj)` walks dicts/lists: values under personal keys (`email`, `phone`,
  `card_number`, ...) are masked by kind, other strings through `mask_text`; keys in
  `drop_keys` are removed. Inputs are never modified.

Masking is one-way and deterministic (no salt), so a masked value can be grepped for but
never turned back into the original.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MASK = "*"

EMAIL_PATTERN = re.compile(r"(?<![\w.+-])([\w.+-]{1,64})@([\w-]+(?:\.[\w-]+)+)")
# A run of 13-19 digits, optionally grouped by single spaces or dashes (card numbers).
CARD_PATTERN = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d])")
# "+" then 8-15 digits, optionally grouped (E.164 as people write it).
PHONE_PATTERN = re.compile(r"(?<![\w+])\+\d(?:[ \-()]?\d){7,14}(?!\d)")

EMAIL_KEYS = frozenset({"email", "e_mail", "email_address", "to_email", "from_email", "recipient_email"})
PHONE_KEYS = frozenset({"phone", "phone_number", "mobile", "msisdn", "to_number", "recipient_phone"})
CARD_KEYS = frozenset({"card", "card_number", "pan", "number_card"})
# Never logged nor sent in any form.
SECRET_KEYS = frozenset({"password", "secret", "authorization", "api_key", "token", "cvc", "cvv"})


def mask_email(value: str) -> str:
    """`ada.obi@example.com` -> `a***@example.com`; a value that is no address is masked whole."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        return MASK * 3 if value else value
    return f"{local[0]}{MASK * 3}@{domain}"


def mask_phone(value: str, *, country_code: bool = True, keep_last: int = 3) -> str:
    """`+2348012345678` -> `+234*******678`: the country code and the last three digits stay.

    `country_code=False, keep_last=2` is the logs' stricter form (`+***********78`).
    """
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return MASK * len(digits) if digits else value
    head = digits[:3] if country_code and value.strip().startswith("+") else ""
    tail = digits[-keep_last:] if keep_last else ""
    masked = f"{head}{MASK * (len(digits) - len(head) - len(tail))}{tail}"
    return f"+{masked}" if value.strip().startswith("+") else masked


def mask_card(value: str) -> str:
    """`4242 4242 4242 4242` -> `************4242` (PCI DSS: at most the last four shown)."""
    digits = re.sub(r"\D", "", value)
    if len(digits) < 8:
        return MASK * len(digits) if digits else value
    return f"{MASK * (len(digits) - 4)}{digits[-4:]}"


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number passes."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2 == 1:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


def _mask_card_match(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return mask_card(digits)
    return match.group(0)


def _mask_phone_match(match: re.Match[str]) -> str:
    return mask_phone(match.group(0))


def mask_text(
    text: str,
    *,
    phone_pattern: re.Pattern[str] = PHONE_PATTERN,
    phone: Callable[[re.Match[str]], str] = _mask_phone_match,
) -> str:
    """Mask every e-mail address, card number (Luhn-valid) and +E.164 phone number in `text`.

    `phone_pattern` and `phone` (a match -> replacement) let a caller find and mask phone
    numbers its own way (the logs: numbers without `+` too, fewer digits kept).
    """
    if not text:
        return text
    text = EMAIL_PATTERN.sub(lambda match: mask_email(match.group(0)), text)
    text = CARD_PATTERN.sub(_mask_card_match, text)
    return phone_pattern.sub(phone, text)


def _maskers() -> dict[str, Callable[[str], str]]:
    maskers: dict[str, Callable[[str], str]] = {}
    maskers.update(dict.fromkeys(EMAIL_KEYS, mask_email))
    maskers.update(dict.fromkeys(PHONE_KEYS, mask_phone))
    maskers.update(dict.fromkeys(CARD_KEYS, mask_card))
    return maskers


_KEY_MASKERS = _maskers()


def mask_data(value: Any, *, drop_keys: Iterable[str] = SECRET_KEYS, keep_keys: Iterable[str] = ()) -> Any:
    """A copy of `value` (dicts, lists, tuples, strings) with personal data masked.

    Values under a personal key are masked by kind; keys in `drop_keys` are replaced by
    `"[redacted]"`; keys in `keep_keys` pass unchanged (a payload that must carry an
    address, e.g. the `to` of a notification to the platform); any other string goes
    through `mask_text`.
    """
    drop = frozenset(key.lower() for key in drop_keys)
    keep = frozenset(key.lower() for key in keep_keys)
    return _mask(value, drop, keep)


def _mask(value: Any, drop: frozenset[str], keep: frozenset[str]) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        masked: dict[Any, Any] = {}
        for key, item in value.items():
            name = str(key).lower()
            if name in keep:
                masked[key] = item
            elif name in drop:
                masked[key] = "[redacted]"
            elif name in _KEY_MASKERS and isinstance(item, str):
                masked[key] = _KEY_MASKERS[name](item) if item else item
            else:
                masked[key] = _mask(item, drop, keep)
        return masked
    if isinstance(value, list | tuple):
        return type(value)(_mask(item, drop, keep) for item in value)
    return value


class MaskingFilter(logging.Filter):
    """A logging filter that masks e-mail addresses, phone and card numbers in every record.

    Wired onto every handler in settings (`mask_personal_data`); the record's message is
    rendered once and masked, so `%s` arguments holding an address are caught too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            # structlog's event dict on its way to ProcessorFormatter, which needs it to stay a
            # dict; the formatter's chain masks it (billing_project.observability's processor).
            return True
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True

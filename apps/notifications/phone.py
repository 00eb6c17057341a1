"""Phone numbers (E.164, via phonenumbers) and SMS segment counting (GSM-7 or UCS-2)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

# GSM 03.38 basic character set, and the extension table (each costs two septets).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


class InvalidPhoneNumber(ValueError):
    """Not a valid E.164 number."""


def to_e164(raw: str, region: str | None = None) -> str:
    """`raw` as E.164 (`+2348012345678`), or InvalidPhoneNumber saying why."""
    if not raw or not raw.strip():
        raise InvalidPhoneNumber("no phone number")
    try:
        number = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{raw!r} is not an E.164 phone number (+<country code><number>)") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class SmsSegments:
    """How a text travels: its encoding, its length in that encoding's units, and segments."""

    encoding: str
    length: int
    segments: int

    def __str__(self) -> str:
        plural = "s" if self.segments != 1 else ""
        return f"{self.segments} segment{plural} ({self.encoding}, {self.length} characters)"


def sms_segments(text: str) -> SmsSegments:
    """GSM-7 fits 160 per single message, 153 per part; UCS-2 70 and 67 (UTF-16 units)."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        length = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    if length == 0:
        return SmsSegments(encoding, 0, 0)
    segments = 1 if length <= single else -(-length // part)
    return SmsSegments(encoding, length, segments)

"""apps.core.privacy: the one masking helper for logs and webhook payloads."""

from __future__ import annotations

import logging
import logging.handlers
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from apps.core.privacy import MaskingFilter, luhn_valid, mask_card, mask_data, mask_email, mask_phone, mask_text


def test_an_email_keeps_its_first_letter_and_domain() -> None:
    assert mask_email("ada.obi@example.com") == "a***@example.com"
    assert mask_email("not-an-address") == "***"
    assert mask_email("") == ""


def test_a_phone_keeps_its_country_code_and_last_three_digits() -> None:
    assert mask_phone("+2348012345678") == "+234*******678"
    assert mask_phone("+44 20 7946 0958") == "+442******958"
    assert mask_phone("12") == "**"


def test_a_card_shows_only_its_last_four_digits() -> None:
    assert mask_card("4242 4242 4242 4242") == "************4242"
    assert mask_card("378282246310005") == "***********0005"


def test_free_text_is_masked_in_place() -> None:
    text = "ada.obi@example.com paid with 4242-4242-4242-4242, call +2348012345678 about INV-2026-000123"
    assert mask_text(text) == ("a***@example.com paid with ************4242, call +234*******678 about INV-2026-000123")


def test_numbers_that_are_not_cards_stay() -> None:
    # 16 digits failing Luhn (an order reference) are left alone.
    assert not luhn_valid("1234567812345678")
    assert mask_text("order 1234567812345678") == "order 1234567812345678"


def test_nested_payloads_are_masked_by_key_and_secrets_redacted_without_touching_the_input() -> None:
    payload = {
        "account": "5b0f",
        "email": "ada@example.com",
        "contact": {"phone": "+2348012345678", "note": "backup bob@example.org"},
        "cards": [{"card_number": "4242424242424242"}],
        "password": "hunter2",
        "amount": "25000.00",
        "count": 3,
    }
    masked = mask_data(payload)
    assert masked == {
        "account": "5b0f",
        "email": "a***@example.com",
        "contact": {"phone": "+234*******678", "note": "backup b***@example.org"},
        "cards": [{"card_number": "************4242"}],
        "password": "[redacted]",
        "amount": "25000.00",
        "count": 3,
    }
    assert payload["email"] == "ada@example.com"
    assert mask_data({"email": "ada@example.com"}, keep_keys=["email"]) == {"email": "ada@example.com"}


@given(st.emails())
@example("0*@A.Am")
def test_no_masked_email_contains_its_local_part_beyond_the_first_letter(address: str) -> None:
    local, _, domain = address.rpartition("@")
    # Exactly the first character and the domain survive. (Not "does not start with the local
    # part": a local part such as "0*" is a prefix of its own correct mask "0***".)
    assert mask_email(address) == f"{local[0]}***@{domain}"


def test_log_records_reach_every_handler_masked(caplog: Any) -> None:
    from django.conf import settings

    logging_config: dict = settings.LOGGING
    handlers: dict[str, Any] = logging_config["handlers"]
    assert all("mask_personal_data" in handler["filters"] for handler in handlers.values())
    logger = logging.getLogger("billing.test")
    handler = logging.handlers.MemoryHandler(capacity=10)
    handler.addFilter(MaskingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("reminder to %s at %s failed", "ada.obi@example.com", "+2348012345678")
        logger.warning("card 4242 4242 4242 4242 declined")
    finally:
        logger.removeHandler(handler)
    assert [record.getMessage() for record in handler.buffer] == [
        "reminder to a***@example.com at +234*******678 failed",
        "card ************4242 declined",
    ]

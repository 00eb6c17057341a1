"""Every shipped template renders in every language with its kind's variables; overrides
are checked before they are saved."""

from __future__ import annotations

import pytest

from apps.notifications.kinds import KINDS
from apps.notifications.models import Channel, Kind, NotificationTemplate
from apps.notifications.rendering import (
    LANGUAGES,
    TemplateProblem,
    render_message,
    render_sample,
    validate_source,
)

pytestmark = pytest.mark.usefixtures("in_tenant_a")


def test_every_kind_has_a_spec() -> None:
    assert set(KINDS) == set(Kind.values)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_renders_in_every_language_without_missing_variables(kind: str, language: str) -> None:
    context = KINDS[kind].sample_context()
    for channel in Channel.values:
        rendered = render_message(kind=kind, channel=channel, language=language, context=context)
        assert rendered.text.strip(), (kind, channel, language)
        if channel != Channel.SMS:
            assert rendered.subject.strip()
    email = render_message(kind=kind, channel=Channel.EMAIL, language=language, context=context)
    assert "Ada Obi" in email.text
    assert "Ada Obi" in email.html
    assert f'<html lang="{language}">' in email.html


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_french_and_spanish_templates_are_translated(kind: str) -> None:
    context = KINDS[kind].sample_context()
    english = render_message(kind=kind, channel=Channel.EMAIL, language="en", context=context)
    for language in ("fr", "es"):
        other = render_message(kind=kind, channel=Channel.EMAIL, language=language, context=context)
        assert other.subject != english.subject, (kind, language)
        assert other.text != english.text, (kind, language)


def test_an_override_replaces_the_shipped_part_for_its_language() -> None:
    NotificationTemplate.objects.create(
        kind="payment_failed", part="sms", language="fr", source="Paiement de {{ amount }} refusé."
    )
    context = KINDS["payment_failed"].sample_context()
    assert render_message(kind="payment_failed", channel="sms", language="fr", context=context).text == (
        "Paiement de ₦25,000.00 refusé."
    )
    assert "failed" in render_message(kind="payment_failed", channel="sms", language="en", context=context).text


def test_a_syntax_error_is_refused_with_the_reason() -> None:
    with pytest.raises(TemplateProblem, match="template syntax error"):
        validate_source(kind="payment_failed", part="sms", source="{% if amount %}no end")


def test_an_unknown_variable_is_refused_with_the_available_ones() -> None:
    with pytest.raises(TemplateProblem, match=r"unknown variable\(s\): amout; available: account_name"):
        validate_source(kind="payment_failed", part="sms", source="Paid {{ amout }}")
    with pytest.raises(TemplateProblem, match="unknown variable"):
        validate_source(kind="payment_failed", part="sms", source="{% if nothing_here %}x{% endif %}")


def test_a_valid_override_passes_and_previews_with_sample_data() -> None:
    source = (
        "{% load i18n %}{% for x in '12' %}{{ x }}{% endfor %} {{ amount|upper }} "
        "{% blocktranslate %}Hi {{ account_name }}{% endblocktranslate %}"
    )
    validate_source(kind="payment_failed", part="sms", source=source)
    assert render_sample(kind="payment_failed", part="sms", source=source, language="en") == "12 ₦25,000.00 Hi Ada Obi"


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_string_has_a_translation(language: str) -> None:
    from babel.messages.pofile import read_po
    from django.conf import settings

    with (settings.BASE_DIR / "locale" / language / "LC_MESSAGES" / "django.po").open("rb") as po_file:
        catalog = read_po(po_file)
    untranslated = [message.id for message in catalog if message.id and (not message.string or message.fuzzy)]
    assert untranslated == []
    assert len(catalog) > 140

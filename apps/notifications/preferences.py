"""Who gets what, where and when: channel choice with opt-outs, addresses, SMS quiet hours.

The rule for transactional notices (every kind we ship is one: they concern the customer's
money or service): an account's opt-outs remove channels, but never all of them. When every
channel a transactional notice would use is opted out, it still goes by email, or by SMS
when the account has no email address.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from apps.accounts.models import Account
from apps.notifications.kinds import kind_spec
from apps.notifications.models import Channel, NotificationPreference
from apps.notifications.phone import InvalidPhoneNumber, to_e164


@dataclass(frozen=True)
class Route:
    """One channel a notification goes by: its recipient, or why it cannot be sent."""

    channel: str
    recipient: str
    problem: str = ""


class _Unset(enum.Enum):
    UNSET = 0


UNSET = _Unset.UNSET
"""`preference=UNSET`: read the account's preference here (a batch passes the one it read)."""
PreferenceArg = NotificationPreference | None | _Unset


def opted_in(account: Account, channel: str) -> bool:
    return {
        Channel.EMAIL: account.notify_by_email,
        Channel.SMS: account.notify_by_sms,
        Channel.PUSH: account.notify_by_push,
    }.get(Channel(channel), True)


def preference_of(account: Account) -> NotificationPreference | None:
    return NotificationPreference.objects.filter(account=account).first()


def recipient_for(account: Account, channel: str, preference: NotificationPreference | None) -> Route:
    if channel == Channel.EMAIL:
        return Route(channel, account.email, "" if account.email else "the account has no email address")
    if channel == Channel.SMS:
        try:
            return Route(channel, to_e164(account.phone, account.country or None))
        except InvalidPhoneNumber as exc:
            return Route(channel, account.phone, f"cannot send SMS: {exc}")
    if channel == Channel.PUSH:
        subscriber = (preference.push_subscriber if preference else "") or account.external_id or str(account.pk)
        if not settings.PUSH_RELAY_URL:
            return Route(channel, subscriber, "push relay not configured (PUSH_RELAY_URL)")
        return Route(channel, subscriber)
    return Route(channel, "")


def choose_routes(
    *,
    account: Account,
    kind: str,
    channels: Sequence[str] | None,
    preference: PreferenceArg = UNSET,
) -> list[Route]:
    """The channels a notification goes by, with their recipients.

    Asked-for channels (`channels`) that cannot be used are kept with their problem so that
    the log shows why. Of the kind's default channels, those without an address (and push
    without a relay) are left out silently; an SMS to an invalid number stays, as a failure.
    Opt-outs apply to both, within the transactional rule above.
    """
    spec = kind_spec(kind)
    wanted = list(dict.fromkeys(Channel(channel).value for channel in (channels or spec.default_channels)))
    if preference is UNSET:
        preference = preference_of(account)
    routes = [recipient_for(account, channel, preference) for channel in wanted if opted_in(account, channel)]
    if channels is None:
        routes = [route for route in routes if route.recipient and not (route.problem and route.channel != Channel.SMS)]
    if not routes and wanted and spec.transactional:
        fallback = [recipient_for(account, channel, preference) for channel in (Channel.EMAIL, Channel.SMS)]
        routes = [route for route in fallback if not route.problem][:1]
    return routes


def parse_quiet_hours(value: str) -> tuple[dt.time, dt.time] | None:
    if not value:
        return None
    start, end = (dt.time.fromisoformat(part.strip()) for part in value.split("-", 1))
    return start, end


def quiet_hours_for(account: Account, preference: PreferenceArg = UNSET) -> tuple[dt.time, dt.time] | None:
    if preference is UNSET:
        preference = preference_of(account)
    if preference is not None:
        if not preference.quiet_hours_enabled:
            return None
        if preference.sms_quiet_hours_start and preference.sms_quiet_hours_end:
            return preference.sms_quiet_hours_start, preference.sms_quiet_hours_end
    return parse_quiet_hours(settings.NOTIFICATIONS_SMS_QUIET_HOURS)


def account_zone(account: Account) -> ZoneInfo:
    try:
        return ZoneInfo(account.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def sms_allowed_from(account: Account, now: dt.datetime, preference: PreferenceArg = UNSET) -> dt.datetime | None:
    """None when an SMS may go now; else the end of the account's quiet hours (aware UTC)."""
    window = quiet_hours_for(account, preference)
    if window is None:
        return None
    start, end = window
    zone = account_zone(account)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    # A window may span midnight (21:00-08:00).
    inside = start <= clock < end if start <= end else clock >= start or clock < end
    if not inside:
        return None
    end_day = local.date() if clock < end else local.date() + dt.timedelta(days=1)
    resume = dt.datetime.combine(end_day, end, tzinfo=zone)
    return resume.astimezone(dt.UTC)

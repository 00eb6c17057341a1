"""Provider callbacks on a tenant host: `/notifications/twilio/status/`, and anymail's
tracking webhooks under `/notifications/anymail/<esp>/tracking/` (also on the public host,
where the message's tenant metadata picks the schema)."""

from django.urls import include, path

from apps.notifications.callbacks import twilio_status

urlpatterns = [
    path("twilio/status/", twilio_status, name="notifications-twilio-status"),
    path("anymail/", include("anymail.urls")),
]

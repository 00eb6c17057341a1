from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "apps.events"
    label = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from apps.events.publishers import dispatch
        from apps.events.services import _after_publish_hooks, on_published

        if dispatch not in _after_publish_hooks:
            on_published(dispatch)

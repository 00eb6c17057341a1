from rest_framework.routers import SimpleRouter

from apps.events.api.views import DeliveryViewSet, EventViewSet, WebhookEndpointViewSet

router = SimpleRouter()
router.register("events", EventViewSet, basename="event")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", DeliveryViewSet, basename="webhook-delivery")

urlpatterns = router.urls

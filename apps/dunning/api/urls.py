from rest_framework.routers import SimpleRouter

from apps.dunning.api.views import CaseViewSet

router = SimpleRouter()
router.register("dunning/cases", CaseViewSet, basename="dunning-case")

urlpatterns = router.urls

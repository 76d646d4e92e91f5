from django.contrib import admin
from django.urls import include, path

from exams.api.metrics_view import metrics
from project.health import healthz, readyz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("exams.api.urls")),
    path("metrics", metrics, name="metrics"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("", include("web.urls")),
]

handler404 = "exams.api.errors.handler404"
handler500 = "exams.api.errors.handler500"

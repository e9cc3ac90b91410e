"""Project URLconf. The Schwab sandbox is never mounted here: it runs as its own server."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from thor_project.dashboard import dashboard

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("dashboard/", dashboard, name="dashboard"),
    path("schwab/", include("LiveData.schwab.web.urls")),
]

if settings.DEBUG:  # in development the dashboard is also the home page
    urlpatterns.append(path("", dashboard, name="home"))

handler400 = "thor_project.errors.bad_request"
handler403 = "thor_project.errors.permission_denied"
handler404 = "thor_project.errors.not_found"
handler500 = "thor_project.errors.server_error"

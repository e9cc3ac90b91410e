"""Project URLconf. The Schwab sandbox is never mounted here: it runs as its own server."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("schwab/", include("LiveData.schwab.urls")),
]

handler404 = "LiveData.schwab.errors.not_found"
handler500 = "LiveData.schwab.errors.server_error"

"""Routes under /schwab/. Names are part of the public contract (see the design notes)."""

from django.urls import path

from LiveData.schwab import views

app_name = "schwab"

urlpatterns = [
    path("health/", views.health, name="health"),
]

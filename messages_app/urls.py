from django.urls import path

from . import apis

urlpatterns: list = [
    path("requests/<int:id>/messages/", apis.RequestMessagesApi.as_view(), name="request-messages"),
]

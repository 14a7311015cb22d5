from django.urls import path

from . import apis, webhooks

urlpatterns: list = [
    path("requests/<int:id>/messages/", apis.RequestMessagesApi.as_view(), name="request-messages"),
    path("inbound/emails/", webhooks.InboundEmailsApi.as_view(), name="inbound-emails"),
]

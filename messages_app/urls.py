from django.urls import path

from messages_app import apis, downloads
from messages_app.inbound import webhook as webhooks

urlpatterns: list = [
    path("requests/<int:id>/messages/", apis.RequestMessagesApi.as_view(), name="request-messages"),
    path("canned-replies/", apis.CannedReplyListApi.as_view(), name="canned-reply-list"),
    path(
        "canned-replies/<int:id>/", apis.CannedReplyDetailApi.as_view(), name="canned-reply-detail"
    ),
    path("inbound/emails/", webhooks.InboundEmailsApi.as_view(), name="inbound-emails"),
    path(
        "attachments/<int:id>/",
        downloads.AttachmentDownloadApi.as_view(),
        name="attachment-download",
    ),
    path("messages/<int:id>/raw/", downloads.RawMessageApi.as_view(), name="message-raw"),
]

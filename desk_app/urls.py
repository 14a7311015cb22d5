from django.urls import include, path

from desk_app import views

app_name = "desk"

urlpatterns = [
    path("", views.queue_view, name="queue"),
    path("login/", views.DeskLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("requests/new/", views.open_request_view, name="open-request"),
    path("requests/<int:request_id>/", views.request_view, name="request"),
    path("requests/<int:request_id>/assign/", views.assign_view, name="assign"),
    path("requests/<int:request_id>/note/", views.note_view, name="note"),
    path(
        "requests/<int:request_id>/canned/<int:canned_reply_id>/",
        views.canned_reply_view,
        name="canned-reply",
    ),
    path("requests/<int:request_id>/take/", views.take_view, name="take"),
    path("requests/<int:request_id>/close/", views.close_view, name="close"),
    path("requests/<int:request_id>/reply/", views.reply_view, name="reply"),
    path(
        "requests/<int:request_id>/messages/<int:message_id>/send-again/",
        views.send_again_view,
        name="send-again",
    ),
    path(
        "requests/<int:request_id>/messages/<int:message_id>/html/",
        views.message_html_view,
        name="message-html",
    ),
]

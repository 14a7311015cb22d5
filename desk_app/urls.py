from django.urls import include, path

from desk_app import views

app_name = "desk"

# The pages of one request, under requests/<id>/.
request_patterns = [
    path("", views.request_view, name="request"),
    path("assign/", views.assign_view, name="assign"),
    path("note/", views.note_view, name="note"),
    path("canned/<int:canned_reply_id>/", views.canned_reply_view, name="canned-reply"),
    path("take/", views.take_view, name="take"),
    path("close/", views.close_view, name="close"),
    path("reply/", views.reply_view, name="reply"),
    path("messages/<int:message_id>/send-again/", views.send_again_view, name="send-again"),
    path("messages/<int:message_id>/html/", views.message_html_view, name="message-html"),
]

urlpatterns = [
    path("", views.queue_view, name="queue"),
    path("login/", views.DeskLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("requests/new/", views.open_request_view, name="open-request"),
    path("requests/<int:request_id>/", include(request_patterns)),
]

from django.urls import path

from requests_app import apis

urlpatterns = [
    path("requests/", apis.RequestListApi.as_view(), name="request-list"),
    path("requests/<int:id>/", apis.RequestDetailApi.as_view(), name="request-detail"),
    path("requests/<int:id>/take/", apis.RequestTakeApi.as_view(), name="request-take"),
    path("requests/<int:id>/close/", apis.RequestCloseApi.as_view(), name="request-close"),
    path("requests/<int:id>/assign/", apis.RequestAssignApi.as_view(), name="request-assign"),
    path("requests/<int:id>/notes/", apis.RequestNotesApi.as_view(), name="request-notes"),
    path("requests/<int:id>/events/", apis.RequestEventsApi.as_view(), name="request-events"),
]

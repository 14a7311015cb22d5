from django.urls import path

from operators_app import apis

urlpatterns = [
    path("auth/token/", apis.TokenObtainApi.as_view(), name="auth-token"),
    path("operators/", apis.OperatorListApi.as_view(), name="operator-list"),
    path("operators/me/", apis.OperatorMeApi.as_view(), name="operator-me"),
]

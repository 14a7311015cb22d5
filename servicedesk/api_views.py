"""Base views the API shares. Apart from `servicedesk.api`, which DRF's settings name (its
parser) and so must not import DRF's views."""

from rest_framework import generics

from servicedesk.api import PageNumberPagination


# A list answered page by page (`PageNumberPagination`), in the order its queryset gives: no
# query parameter filters it. (No docstring: drf-spectacular would take it as the description
# of every operation that inherits it without one of its own.)
class PaginatedListApi(generics.ListAPIView):
    pagination_class = PageNumberPagination
    filter_backends = []

"""Repeated query parameters under /api/: honoured whole for list parameters, refused otherwise.

`?status=new&status=in_progress` is how many clients (openapi-python-client among them)
send an array; Django's `QueryDict.get` would silently keep only the last value. A view
names its list parameters in `array_query_params`: their repetitions are joined with
commas, the documented form. Any other parameter given twice answers 400.
"""

from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin


class RepeatedQueryParamsMiddleware(MiddlewareMixin):
    """Join repeated list parameters of API views with commas; refuse other repeated ones."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.path.startswith("/api/"):
            return None
        repeated = [key for key, values in request.GET.lists() if len(values) > 1]
        if not repeated:
            return None
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        arrays = set(getattr(view_class, "array_query_params", ()))
        refused = [key for key in repeated if key not in arrays]
        if refused:
            return JsonResponse({key: ["Give this parameter once."] for key in refused}, status=400)
        query = request.GET.copy()
        for key in repeated:
            query.setlist(key, [",".join(query.getlist(key))])
        query._mutable = False
        request.GET = query
        return None

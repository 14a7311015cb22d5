"""The row a page of the request list is read as: the one list of the columns the
Request object shows, shared by the list, the detail, the console's queue and the
serializer that maps a row to the object."""

import datetime
from typing import NamedTuple


class RequestRow(NamedTuple):
    """One request as the list reads it: every column the Request object shows
    (`serializers.request_data` maps a row to the object), and nothing else. A page of
    rows skips building 100 model instances."""

    id: int
    subject: str
    requester_email: str
    requester_name: str
    status: str
    operator_id: int | None
    operator__name: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    taken_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    last_message_at: datetime.datetime | None
    message_count: int
    last_reply_by: str
    first_response_at: datetime.datetime | None


# The columns of a RequestRow, in its order: what `values_list` reads for a page.
REQUEST_COLUMNS = RequestRow._fields

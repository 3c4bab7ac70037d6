"""``POST /v2/customer-events``: the ordering platform's customer events, of which the two order
events accrue and reverse points (``opendelivery.orders``)."""

from collections.abc import Callable
from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from opendelivery.auth import od_caller
from opendelivery.errors import EventTypeUnknown, od_exception_handler
from opendelivery.orders import Handled, od_customer_event
from opendelivery.views import OdView


def _customer_event_errors(exc: Exception, context: dict[str, Any]) -> Response:
    """The surface's errors, but an unknown event type keeps its 422: upstream answers it so, and the
    standard, which defines this path only as a webhook the platform hosts, declares no answer for it."""
    response = od_exception_handler(exc, context)
    if isinstance(exc, EventTypeUnknown):
        response.status_code = exc.status
    return response


class CustomerEventsView(OdView):
    operations: ClassVar[dict[str, str]] = {"post": "receiveCustomerEvent"}

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Any]:
        return _customer_event_errors

    def post(self, request: Request) -> Response:
        handled = od_customer_event(company=od_caller(request).company, data=request.data)
        return Response(status=204 if handled is Handled.ACCEPTED else 202)

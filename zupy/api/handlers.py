"""Django's own error views (outside DRF), as problem+json."""

from django.http import HttpRequest, JsonResponse

from zupy.api.problems import PROBLEM_CONTENT_TYPE, problem


def _answer(request: HttpRequest, status: int) -> JsonResponse:
    return JsonResponse(
        problem(status, instance=request.path), status=status, content_type=PROBLEM_CONTENT_TYPE
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _answer(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _answer(request, 403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _answer(request, 404)


def server_error(request: HttpRequest) -> JsonResponse:
    return _answer(request, 500)

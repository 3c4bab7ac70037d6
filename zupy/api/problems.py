"""RFC 7807 problem documents: the one shape every error of this API takes."""

from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://api.zupy.com/errors/"

# Statuses that can reach a partner without a domain error behind them (Django's and DRF's own).
STATUS_PROBLEMS: dict[int, tuple[str, str, str]] = {
    400: ("validation-error", "Bad Request", "The request is malformed."),
    401: ("authentication-required", "Authentication Required", "A valid X-API-Key header is required."),
    403: ("permission-denied", "Permission Denied", "You may not perform this action."),
    404: ("not-found", "Not Found", "The resource was not found."),
    405: ("method-not-allowed", "Method Not Allowed", "This method is not allowed on this resource."),
    406: ("not-acceptable", "Not Acceptable", "This API only produces JSON."),
    409: ("conflict", "Conflict", "The request conflicts with the current state of the resource."),
    413: ("payload-too-large", "Payload Too Large", "The request body is too large."),
    414: ("uri-too-long", "URI Too Long", "The request line (method, path and query) is too long."),
    415: ("unsupported-media-type", "Unsupported Media Type", "Send the body as application/json."),
    422: ("validation-error", "Validation Error", "The request is not valid."),
    429: ("rate-limit-exceeded", "Rate Limit Exceeded", "Too many requests."),
    431: (
        "request-header-fields-too-large",
        "Request Header Fields Too Large",
        "A request header, or the number of them, is over the limit.",
    ),
    500: ("internal-error", "Internal Server Error", "An unexpected error occurred; it has been logged."),
    502: ("bad-gateway", "Bad Gateway", "The service behind the proxy did not answer properly."),
    503: ("service-unavailable", "Service Unavailable", "The service is temporarily unavailable."),
    504: ("gateway-timeout", "Gateway Timeout", "The service behind the proxy did not answer in time."),
}


def problem(
    status: int,
    *,
    instance: str,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    default_slug, default_title, default_detail = STATUS_PROBLEMS.get(
        status, ("error" if status < 500 else "internal-error", "Error", "The request failed.")
    )
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail or default_detail,
        "instance": instance,
    }
    if code:
        body["code"] = code
    if errors is not None:
        body["errors"] = errors
    return body

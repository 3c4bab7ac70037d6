"""The middleware only the admin needs, run only for the paths that need it.

``AdminLayersMiddleware`` stands, last in ``MIDDLEWARE``, for the chain ``settings.ADMIN_LAYERS``
(whitenoise, sessions, CSRF, authentication, messages, django-axes). A request whose path starts with
one of ``settings.ADMIN_LAYER_PATHS`` (the admin, the static files) goes through that chain exactly as
Django would run it from ``MIDDLEWARE``: each layer wrapped so that an exception becomes its error
response at that layer, and their ``process_view``, ``process_template_response`` and
``process_exception`` hooks called in Django's order, after those of every middleware before this
one. Every other request, the partner API's, skips the chain: no session store built, no CSRF cookie
read, no lazy user, no static-file lookup.

The scope is a list of the paths that need the layers, not of the paths that do not: a surface added
later starts without sessions, so a view there that reads ``request.user`` or ``request.session``
fails loudly in its first test rather than quietly carrying the admin's cookie-based login. CSRF
goes with sessions for the same reason: it protects a session cookie, and where no session is read
there is no ambient credential for a forged request to ride on.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.checks.security import csrf as csrf_checks
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.module_loading import import_string

ViewHook = Callable[[HttpRequest, Callable[..., Any], tuple[Any, ...], dict[str, Any]], HttpResponse | None]
TemplateHook = Callable[[HttpRequest, Any], Any]
ExceptionHook = Callable[[HttpRequest, Exception], HttpResponse | None]


class AdminLayersMiddleware:
    sync_capable = True
    async_capable = False  # the service is WSGI; the layers are chained synchronously below

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefixes = tuple(settings.ADMIN_LAYER_PATHS)
        # Built as BaseHandler.load_middleware builds MIDDLEWARE: innermost first, hooks in the
        # order Django calls them (view hooks outermost first, the other two innermost first).
        self._view_hooks: list[ViewHook] = []
        self._template_hooks: list[TemplateHook] = []
        self._exception_hooks: list[ExceptionHook] = []
        handler: Callable[[HttpRequest], Any] = get_response
        for middleware_path in reversed(settings.ADMIN_LAYERS):
            middleware = import_string(middleware_path)
            if not getattr(middleware, "sync_capable", True):
                raise ImproperlyConfigured(f"{middleware_path} in ADMIN_LAYERS must be sync capable")
            try:
                layer = middleware(handler)
            except MiddlewareNotUsed:
                continue
            if layer is None:
                raise ImproperlyConfigured(f"Middleware factory {middleware_path} returned None.")
            if hasattr(layer, "process_view"):
                self._view_hooks.insert(0, layer.process_view)
            if hasattr(layer, "process_template_response"):
                self._template_hooks.append(layer.process_template_response)
            if hasattr(layer, "process_exception"):
                self._exception_hooks.append(layer.process_exception)
            handler = convert_exception_to_response(layer)
        self._layers: Callable[[HttpRequest], HttpResponseBase] = handler

    def _applies(self, request: HttpRequest) -> bool:
        return request.path_info.startswith(self.prefixes)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self._applies(request):
            return self._layers(request)
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if self._applies(request):
            for hook in self._view_hooks:
                response = hook(request, view_func, view_args, view_kwargs)
                if response:
                    return response
        return None

    def process_template_response(self, request: HttpRequest, response: Any) -> Any:
        if self._applies(request):
            for hook in self._template_hooks:
                response = hook(request, response)
                if response is None:
                    # Django raises the same for a hook in MIDDLEWARE that forgets to return.
                    raise ValueError(f"{hook.__qualname__} didn't return an HttpResponse object.")
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if self._applies(request):
            for hook in self._exception_hooks:
                response = hook(request, exception)
                if response:
                    return response
        return None


# What the admin's, axes' and Django's deploy checks ask of MIDDLEWARE (admin.E408-E410, axes.W002,
# security.W003: silenced in zupy/settings.py because the layers stand here instead), asked of the
# layers where they are.
_CSRF = "django.middleware.csrf.CsrfViewMiddleware"
_REQUIRED = (
    _CSRF,
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",
)


def _position(class_path: str, candidates: list[str]) -> int | None:
    """Where ``class_path`` (or a subclass of it) is in ``candidates``."""
    wanted = import_string(class_path)
    for index, candidate in enumerate(candidates):
        found = import_string(candidate)
        if isinstance(found, type) and issubclass(found, wanted):
            return index
    return None


@checks.register(checks.Tags.admin)
def check_admin_layers(**kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    middleware, layers = list(settings.MIDDLEWARE), list(settings.ADMIN_LAYERS)
    if _position(f"{__name__}.AdminLayersMiddleware", middleware) is None:
        errors.append(
            checks.Error("AdminLayersMiddleware must be in MIDDLEWARE: the admin needs it.", id="core.E001")
        )
    positions = [_position(required, layers) for required in _REQUIRED]
    for required, position in zip(_REQUIRED, positions, strict=True):
        if position is None:
            errors.append(checks.Error(f"{required} must be in ADMIN_LAYERS for the admin.", id="core.E002"))
    _, sessions, auth, _, axes = positions
    if sessions is not None and auth is not None and sessions > auth:
        errors.append(
            checks.Error("SessionMiddleware must come before AuthenticationMiddleware.", id="core.E003")
        )
    if axes is not None and axes != len(layers) - 1:
        errors.append(checks.Error("AxesMiddleware must be the last of ADMIN_LAYERS.", id="core.E004"))
    errors.extend(
        checks.Error(f"{layer} is in both MIDDLEWARE and ADMIN_LAYERS: it would run twice.", id="core.E005")
        for layer in layers
        if layer in middleware
    )
    errors.extend(
        checks.Error(f"ADMIN_LAYER_PATHS entry {prefix!r} must start and end with a slash.", id="core.E006")
        for prefix in settings.ADMIN_LAYER_PATHS
        if not (prefix.startswith("/") and prefix.endswith("/"))
    )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_admin_csrf_cookie(**kwargs: Any) -> list[checks.CheckMessage]:
    """Django's check of the CSRF cookie's Secure flag (security.W016) looks for the middleware in
    MIDDLEWARE only, so it would pass silently here: the same check, for the layers where they are."""
    if (
        _CSRF not in settings.ADMIN_LAYERS
        or settings.CSRF_USE_SESSIONS
        or settings.CSRF_COOKIE_SECURE is True
    ):
        return []
    return [csrf_checks.W016]

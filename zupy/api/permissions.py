from rest_framework.permissions import SAFE_METHODS, BasePermission

from zupy.errors import PermissionDenied


class HasApiKey(BasePermission):
    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        return request.auth is not None


class KeyCanWrite(BasePermission):
    """A read-only key may call GET/HEAD/OPTIONS only."""

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        if request.method in SAFE_METHODS or request.auth is None:
            return True
        if request.auth.read_only:
            raise PermissionDenied("This API key is read-only.")
        return True

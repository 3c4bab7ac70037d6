from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from zupy.errors import PermissionDenied
from zupy.models import ApiKey

if TYPE_CHECKING:  # rest_framework.views imports the settings that name these classes: a cycle at run time
    from rest_framework.views import APIView


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view: "APIView") -> bool:
        return request.auth is not None


class KeyCanWrite(BasePermission):
    """A read-only key may call GET/HEAD/OPTIONS only."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if request.method in SAFE_METHODS or not isinstance(api_key, ApiKey):
            return True
        if api_key.read_only:
            raise PermissionDenied("This API key is read-only.")
        return True

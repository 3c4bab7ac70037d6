"""Path converters of the PassKit web service and the public downloads (zupy/urls.py registers
them): what does not match answers 404 from the resolver, before any view or query."""


class _Converter:
    regex = ""

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class TokenConverter(_Converter):
    """A download or image token (``secrets.token_urlsafe``)."""

    regex = "[A-Za-z0-9_-]{16,64}"


class DeviceConverter(_Converter):
    """Wallet's ``deviceLibraryIdentifier``: an opaque identifier, hex in practice; letters and
    digits only, so that no id is a path segment of its own ("." or "..") or carries punctuation."""

    regex = "[A-Za-z0-9]{1,100}"


class PassTypeConverter(_Converter):
    """A Pass Type ID: ``pass.com.example.loyalty``."""

    regex = "[A-Za-z0-9._-]{1,200}"


class ImageNameConverter(_Converter):
    regex = "[a-z0-9@-]{1,30}\\.png"

from zupy.models import API_KEY_PREFIX, ApiKey, api_key_digest


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key for this raw value, with its company, or None.

    The lookup is by digest (a unique index), so no stored secret is ever compared byte by byte.
    """
    if not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) != len(API_KEY_PREFIX) + 32:
        return None
    return (
        ApiKey.objects.select_related("company")
        .filter(digest=api_key_digest(raw_key), revoked_at__isnull=True)
        .first()
    )

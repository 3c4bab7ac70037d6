from datetime import UTC, datetime, timedelta


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``, as every timestamp of the API and its webhooks is written."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def duration_words(delta: timedelta) -> str:
    """A duration as a message to people says it, in the largest unit that divides it: "5 minutes",
    "1 hour", "90 seconds"."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"

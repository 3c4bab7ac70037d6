from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from zupy.api.parsing import ascii_int
from zupy.ids import KSUID_RE
from zupy.money import z_format

ksuid_validator = RegexValidator(KSUID_RE, "Must be a KSUID (27 letters and digits).")


class KsuidField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 27)
        kwargs.setdefault("min_length", 27)
        super().__init__(**kwargs)
        self.validators.append(ksuid_validator)


def z_amount(micro: int | None) -> str | None:
    """Z$ (stored as micro-Z$) as the contract writes it: a decimal string with 6 places."""
    return None if micro is None else z_format(micro)


class AsciiIntegerField(serializers.IntegerField):
    """DRF's IntegerField, but a string of digits must be ASCII digits (DRF's ``int()`` reads "٣" as 3)."""

    def to_internal_value(self, data: object) -> int:
        if not isinstance(data, str | int | float):  # what DRF's int(str(data)) would refuse as well
            self.fail("invalid")
        if isinstance(data, str) and ascii_int(data.strip().lstrip("-")) is None:
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean, or one of the usual query-string spellings; anything else is a 422."""

    TRUE_VALUES = {True, "true", "True", "TRUE", "1"}
    FALSE_VALUES = {False, "false", "False", "FALSE", "0"}


class JsonBooleanField(serializers.BooleanField):
    """A body field: JSON true or false, nothing else (not "true", not 1)."""

    def to_internal_value(self, data: object) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")

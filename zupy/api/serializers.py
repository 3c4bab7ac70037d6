"""Output serializers that render from a plan compiled once per class.

DRF's Serializer rebuilds (deep-copies) its fields for every instance and walks them generically;
on a 50-reward catalog page that was most of the request's CPU. ``FastOutput`` keeps the DRF
declaration (the OpenAPI document is generated from it) but renders with one getter and one
converter per field, producing exactly what DRF would for the field types used here.
"""

from collections.abc import Callable
from decimal import Decimal
from operator import attrgetter
from typing import Any, ClassVar

from rest_framework import serializers

from zupy.timefmt import iso_utc

Render = Callable[[Any, Any], Any]  # (serializer, instance) -> the field's output
Plan = list[tuple[str, Render]]


def _converter(field: serializers.Field) -> Callable[[Any], Any]:
    if isinstance(field, serializers.DateTimeField):
        return iso_utc
    if isinstance(field, serializers.DecimalField):
        places = field.decimal_places
        return lambda v: None if v is None else f"{Decimal(v):.{places}f}"
    if isinstance(field, serializers.BooleanField):
        return lambda v: None if v is None else bool(v)
    if isinstance(field, serializers.IntegerField):
        return lambda v: None if v is None else int(v)
    if isinstance(field, serializers.FloatField):
        return lambda v: None if v is None else float(v)
    if isinstance(field, serializers.CharField):
        return lambda v: None if v is None else str(v)
    if isinstance(field, (serializers.DictField, serializers.ListField, serializers.JSONField)):
        return lambda v: v
    raise TypeError(f"FastOutput does not know how to render {type(field).__name__}")


def _method_render(method: str) -> Render:
    return lambda self, obj: getattr(self, method)(obj)


def _field_render(get: Callable[[Any], Any], convert: Callable[[Any], Any]) -> Render:
    return lambda self, obj: convert(get(obj))


class FastOutput(serializers.Serializer):
    _plans: ClassVar[dict[type, Plan]] = {}

    @classmethod
    def _plan(cls) -> Plan:
        plan = FastOutput._plans.get(cls)
        if plan is None:
            plan = []
            for name, field in cls._declared_fields.items():
                if isinstance(field, serializers.SerializerMethodField):
                    method = field.method_name or f"get_{name}"
                    plan.append((name, _method_render(method)))
                    continue
                plan.append((name, _field_render(attrgetter(str(field.source or name)), _converter(field))))
            FastOutput._plans[cls] = plan
        return plan

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {name: render(self, instance) for name, render in self._plan()}

"""Writing answers: the ``{data, meta}`` envelope or bare objects (the key's response format), JSON
whatever the Accept header says, and the output serializers' shared parts (``FastOutput``,
``ConstantField``, ``TextOut``)."""

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any, ClassVar

from django.db import models
from rest_framework import serializers
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from core.timefmt import iso_utc


class ResponseFormat(models.TextChoices):
    """The generation of the API a key's partner was written against (docs/api.md, response formats)."""

    ENVELOPE = "envelope", "Envelope: {data, meta} around every success (the guide's, before 2026-07)"
    ROOT = "root", "Root: bare objects, exactly as the current upstream document (2026-07 on)"


class Envelope(dict):
    """A body already in its final shape, rendered as it is in both formats: ``{data, meta}`` (the
    cursor lists, and the stats, which the upstream document itself describes so) or a root-format
    page ``{count, next, previous, results}``."""


def response_format_of(request: Any) -> str:
    """The calling key's response format; ``envelope`` when there is no key (errors only, then)."""
    chosen = getattr(getattr(request, "auth", None), "response_format", None)
    return chosen if chosen in ResponseFormat.values else ResponseFormat.ENVELOPE


class EnvelopeJSONRenderer(JSONRenderer):
    """Wraps every success as ``{"data": ..., "meta": {}}`` for an ``envelope`` key and leaves it bare
    for a ``root`` key (docs/api.md, response formats); errors are problem documents already."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        context = renderer_context or {}
        response = context.get("response")
        if (
            response is not None
            and response.status_code < 400
            and not isinstance(data, Envelope)
            and response_format_of(context.get("request")) == ResponseFormat.ENVELOPE
        ):
            data = {"data": data, "meta": {}}
        return super().render(data, accepted_media_type, renderer_context)


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """The API speaks JSON: an Accept header it cannot honour gets JSON anyway, not a 406."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            first = next(iter(renderers))
            return first, first.media_type


class ConstantField(serializers.Field):
    """An output field that has the same value for every object: the contract has fields this service
    always answers alike (``origin_type``, ``has_wallet``…). ``schema_type`` names the type the OpenAPI
    document gives a ``None`` constant (``core.schema``)."""

    def __init__(self, value: Any, *, schema_type: type | None = None, **kwargs: Any) -> None:
        self.value = value
        self.schema_type = schema_type or type(value)
        super().__init__(source="*", read_only=True, allow_null=value is None, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return self.value


class TextOut(serializers.CharField):
    """An output string the upstream document declares non-nullable: ``""`` when unknown, never
    ``null`` (an SDK generated from that document with a non-optional ``String`` fails to decode a
    null). Replaced in ``get_attribute``, before DRF's own None check, so DRF and FastOutput agree."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_blank=True, **kwargs)

    def get_attribute(self, instance: Any) -> Any:
        value = super().get_attribute(instance)
        return "" if value is None else value


Render = Callable[[Any, Any], Any]  # (serializer, instance) -> the field's output
Plan = list[tuple[str, Render]]


def _constant_render(value: Any) -> Render:
    return lambda self, obj: value


def _method_render(method: str) -> Render:
    return lambda self, obj: getattr(self, method)(obj)


def _field_render(get: Callable[[Any], Any], convert: Callable[[Any], Any]) -> Render:
    return lambda self, obj: convert(get(obj))


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
    if isinstance(field, TextOut):
        return lambda v: "" if v is None else str(v)
    if isinstance(field, serializers.CharField):
        return lambda v: None if v is None else str(v)
    if isinstance(field, (serializers.DictField, serializers.ListField, serializers.JSONField)):
        return lambda v: v
    raise TypeError(f"FastOutput does not know how to render {type(field).__name__}")


class FastOutput(serializers.Serializer):
    """An output serializer that renders from a plan compiled once per class.

    DRF's Serializer rebuilds (deep-copies) its fields for every instance and walks them generically.
    ``FastOutput`` keeps the DRF declaration (the OpenAPI document is generated from it, and
    tests/core/test_fast_output.py holds it to DRF's output) but renders with one getter and one
    converter per field, producing exactly what DRF would for the field types used here.

    A list can skip model instances too: it reads ``row_columns()`` with ``values_list(named=True)``
    and renders the rows with ``render_rows``. A method field is then handed the row, so it reads
    only attributes a row and an instance both have, and the columns it reads beyond the fields'
    own sources are named in ``row_reads``.

    Why: DRF's generic ``to_representation`` and the ORM's model instances are a large share of a
    list page's CPU; what this saves is measured by ``python -m bench.profile`` (docs/benchmark.md).
    """

    row_reads: ClassVar[tuple[str, ...]] = ()

    _plans: ClassVar[dict[type, Plan]] = {}
    _row_plans: ClassVar[dict[type, tuple[tuple[str, ...], Plan]]] = {}

    @classmethod
    def _compile(cls, getter: Callable[[str], Callable[[Any], Any]]) -> Plan:
        plan: Plan = []
        # Bound once, from a throwaway instance: each field then knows its source and method name.
        for name, field in cls().fields.items():
            if isinstance(field, ConstantField):
                plan.append((name, _constant_render(field.value)))
            elif isinstance(field, serializers.SerializerMethodField):
                plan.append((name, _method_render(str(field.method_name))))
            else:
                plan.append((name, _field_render(getter(str(field.source)), _converter(field))))
        return plan

    @classmethod
    def _plan(cls) -> Plan:
        plan = FastOutput._plans.get(cls)
        if plan is None:
            plan = FastOutput._plans[cls] = cls._compile(attrgetter)
        return plan

    @classmethod
    def _row_plan(cls) -> tuple[tuple[str, ...], Plan]:
        compiled = FastOutput._row_plans.get(cls)
        if compiled is None:
            sources = [
                str(field.source)
                for field in cls().fields.values()
                if not isinstance(field, (ConstantField, serializers.SerializerMethodField))
            ]
            if "*" in sources:
                raise TypeError(f"{cls.__name__} has a field of the whole object: it cannot render rows")
            columns = tuple(dict.fromkeys([s.replace(".", "__") for s in sources] + list(cls.row_reads)))
            plan = cls._compile(lambda source: itemgetter(columns.index(source.replace(".", "__"))))
            compiled = FastOutput._row_plans[cls] = (columns, plan)
        return compiled

    @classmethod
    def row_columns(cls) -> tuple[str, ...]:
        """What ``render_rows`` reads, in order, for ``values_list(*columns, named=True)``: each
        field's source (``reward.name`` as ``reward__name``), then ``row_reads``."""
        return cls._row_plan()[0]

    @classmethod
    def render_rows(cls, rows: Sequence[Any], *, context: dict[str, Any] | None = None) -> list[Any]:
        """The rows of ``row_columns()`` rendered as a list of this serializer would render the
        model instances they were read from."""
        serializer = cls(context=context or {})
        plan = cls._row_plan()[1]
        return [{name: render(serializer, row) for name, render in plan} for row in rows]

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {name: render(self, instance) for name, render in self._plan()}

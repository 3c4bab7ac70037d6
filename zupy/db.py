from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model, QuerySet
from django.utils.dateparse import parse_datetime

T = TypeVar("T")


def one_or_none(queryset: "QuerySet[Any, T]") -> T | None:
    """The row a unique lookup finds, or None. Unlike ``.first()`` it adds no ORDER BY, which on a
    hot path costs more CPU to compile in Django than the query costs PostgreSQL to run."""
    for row in queryset.order_by()[:1]:
        return row
    return None


# --- Hand-written statements on hot paths -------------------------------------------------------
# The few statements sent on every validate, redeem or points add are written by hand: compiling them
# through the ORM cost more CPU per request than everything else in the request together
# (``python -m bench.profile validate --layers``; docs/benchmark.md). They stay portable: table and
# column names come from the models' _meta where a rename could bite, parameters go through Django's
# cursor (either backend), and values read back are converted here.
M = TypeVar("M", bound=Model)


def model_from_row(model: type[M], **values: Any) -> M:
    """An instance of ``model`` as the ORM would load it with ``.only(*values)``: the fields not
    given are deferred (reading one loads it), never silently their defaults. Values by column
    attribute (``customer_id``); attach related instances afterwards (``coupon.customer = ...``)."""
    names = set(values)
    unknown = names - {f.attname for f in model._meta.concrete_fields}
    if unknown:  # a relation's name (not its "_id") would be dropped here and loaded lazily later
        raise TypeError(f"not columns of {model.__name__}: {sorted(unknown)}")
    return model.from_db(
        connection.alias,
        names,
        [values[f.attname] for f in model._meta.concrete_fields if f.attname in names],
    )


def db_datetime(value: Any) -> datetime:
    """A timestamp column read through a raw cursor: PostgreSQL gives an aware datetime, SQLite the
    naive UTC text Django stored."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        raise ValueError("expected a timestamp")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def db_param(value: datetime) -> Any:
    """A timestamp as the backend stores it (SQLite: naive UTC text), for a raw statement."""
    return connection.ops.adapt_datetimefield_value(value)


def lock_clause(alias: str) -> str:
    """``FOR UPDATE OF alias`` where the database has row locks. SQLite has none: its IMMEDIATE
    transactions (settings.py) hold the database's write lock from BEGIN, which serialises writers."""
    if connection.features.has_select_for_update_of:
        return f" FOR UPDATE OF {alias}"
    return ""

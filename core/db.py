import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model, QuerySet
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
# (``python -m bench.profile validate --layers``; docs/benchmark.md). They stay portable and follow
# the models: every table and column name comes from the models' _meta (``statement``), parameters
# go through Django's cursor (either backend), and values read back are converted here. Each stays
# in the app that owns the table it writes (tests/test_layers.py: no app's string names another
# app's table), and writes no model that has pre_save/post_save receivers: none of these sends
# signals (tests/test_unsignalled_writes.py).
M = TypeVar("M", bound=Model)


class _Names:
    """A model's quoted SQL names for ``statement``: ``{alias}`` is its table, ``{alias.field}`` the
    column of a field, by name or attribute name (``customer`` and ``customer_id`` alike)."""

    __slots__ = ("_model",)

    def __init__(self, model: type[Model]) -> None:
        self._model = model

    def __format__(self, spec: str) -> str:
        return connection.ops.quote_name(self._model._meta.db_table)

    def __getattr__(self, name: str) -> str:
        return connection.ops.quote_name(_field(self._model, name).column)


@functools.cache
def _statement(template: str, models: tuple[tuple[str, type[Model]], ...], vendor: str) -> str:
    return template.format_map({alias: _Names(model) for alias, model in models})


def statement(template: str, **models: type[Model]) -> str:
    """A hand-written statement with its names taken from the models: ``{r}`` in ``template`` becomes
    the quoted table of ``models["r"]``, ``{r.quantity_available}`` the quoted column of that field.
    Rendered once per process and template, so the text never names a table or column itself::

        statement("UPDATE {r} SET {r.quantity_available} = %s WHERE {r.id} = %s", r=Reward)
    """
    return _statement(template, tuple(models.items()), connection.vendor)


class DeferredFieldRead(RuntimeError):
    """A field that ``model_from_row`` was not given was read: loading it would be a query nobody
    counted, on a path whose statements are counted (tests/test_query_budget.py)."""


@functools.cache
def _refuse_loading(model: type[Model]) -> Callable[..., None]:
    def refresh_from_db(using: Any = None, fields: Any = None, from_queryset: Any = None) -> None:
        missing = ", ".join(fields) if fields else "its fields"
        raise DeferredFieldRead(
            f"{model.__name__}: {missing} not loaded by the statement that built this instance; "
            "select it there, or load the row through the ORM"
        )

    return refresh_from_db


def model_from_row(model: type[M], **values: Any) -> M:
    """An instance of ``model`` with the fields given, as the ORM would load it with
    ``.only(*values)``, except that reading any other field raises ``DeferredFieldRead`` instead of
    loading it with a query of its own (never silently its default either). Values by column
    attribute (``customer_id``); attach related instances afterwards (``coupon.customer = ...``).
    ``save(update_fields=...)`` of loaded fields works as on any instance."""
    names = set(values)
    unknown = names - {f.attname for f in model._meta.concrete_fields}
    if unknown:  # a relation's name (not its "_id") would be dropped here and loaded lazily later
        raise TypeError(f"not columns of {model.__name__}: {sorted(unknown)}")
    instance = model.from_db(
        connection.alias,
        names,
        [values[f.attname] for f in model._meta.concrete_fields if f.attname in names],
    )
    # A deferred field loads itself through the instance's refresh_from_db (Django's
    # DeferredAttribute): shadowed on this instance only, so the read raises instead.
    instance.__dict__["refresh_from_db"] = _refuse_loading(model)
    return instance


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


# --- Statements compiled once per process -----------------------------------------------------------
# The same SQL Django would write for a locking read by key, an UPDATE of named fields and a
# multi-row INSERT, built once per model and shape (not once per call) and run through Django's
# cursor. Values are prepared and read back by the fields themselves (get_db_prep_save, Django's own
# converters), so every backend and field type behaves as through the ORM.
Converter = Callable[[Any, Any, Any], Any]
Conversion = tuple[int, Any, tuple[Converter, ...]]  # column index, its Col, its converters


def _field(model: type[Model], name: str) -> "Field[Any, Any]":
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


@functools.cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


@functools.cache
def _select_plan(
    model: type[Model], where: tuple[str, ...], lock: bool, vendor: str
) -> tuple[str, tuple[Conversion, ...]]:
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in meta.concrete_fields)
    conditions = " AND ".join(f"{quote(_field(model, name).column)} = %s" for name in where)
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {conditions}"
    if lock:
        sql += " FOR UPDATE"
    conversions: list[Conversion] = []
    for index, field in enumerate(meta.concrete_fields):
        col = field.get_col(meta.db_table)
        found = tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection))
        if found:
            conversions.append((index, col, found))
    return sql, tuple(conversions)


def row_fetch(model: type[M], *, for_update: bool, **where: Any) -> M | None:
    """The one row of ``model`` matching ``where`` (attribute names: ``pk``, ``company_id``, ...),
    every column loaded; None if there is none. ``for_update``: its row locked until the transaction
    ends (``select_for_update()``; SQLite: its IMMEDIATE transaction already holds the write lock)."""
    lock = for_update and connection.features.has_select_for_update
    sql, conversions = _select_plan(model, tuple(where), lock, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, list(where.values()))
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, col, converters in conversions:
        for convert in converters:
            values[index] = convert(values[index], col, connection)
    return model.from_db(connection.alias, _attnames(model), values)


@functools.cache
def _update_sql(
    model: type[Model], fields: tuple[str, ...], vendor: str
) -> tuple[str, tuple["Field[Any, Any]", ...]]:
    quote = connection.ops.quote_name
    found = tuple(_field(model, name) for name in fields)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in found)
    key = quote(_field(model, "pk").column)
    return f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {key} = %s", found


def row_update(instance: Model, fields: Iterable[str]) -> None:
    """``instance.save(update_fields=fields)`` without the save machinery: the listed fields only
    (an ``auto_now`` field among them is stamped, as save does); no signals (none may be connected to
    the models written this way: tests/test_unsignalled_writes.py)."""
    sql, found = _update_sql(type(instance), tuple(fields), connection.vendor)
    values = [f.get_db_prep_save(f.pre_save(instance, False), connection) for f in found]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])


@functools.cache
def _insert_sql(model: type[Model], rows: int, vendor: str) -> tuple[str, tuple[Field, ...]]:
    meta = model._meta
    quote = connection.ops.quote_name
    fields = tuple(f for f in meta.concrete_fields if not f.generated)
    columns = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES " + ", ".join([one] * rows), fields


def rows_insert(objs: Sequence[M]) -> list[M]:
    """``bulk_create(objs)`` as one INSERT of every row, for models whose key is set in Python (the
    KSUID default): nothing needs reading back. ``auto_now``/``auto_now_add`` are stamped as save does."""
    if not objs:
        return []
    sql, fields = _insert_sql(type(objs[0]), len(objs), connection.vendor)
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in objs for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return list(objs)


@functools.cache
def _insert_unless_sql(
    model: type[Model], unique: str, vendor: str
) -> tuple[str, tuple["Field[Any, Any]", ...]]:
    sql, fields = _insert_sql(model, 1, vendor)
    return f"{sql} ON CONFLICT ({connection.ops.quote_name(_field(model, unique).column)}) DO NOTHING", fields


def row_insert_unless_taken(obj: Model, *, unique: str) -> bool:
    """INSERT ``obj`` unless its ``unique`` column's value is taken already (``ON CONFLICT DO
    NOTHING``, PostgreSQL and SQLite alike): True if inserted. Any other refusal still raises."""
    sql, fields = _insert_unless_sql(type(obj), unique, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])
        inserted = cursor.rowcount == 1
    if inserted:
        obj._state.adding = False
        obj._state.db = connection.alias
    return inserted

"""Our OpenDelivery answers, checked against the standard's own documents.

``od_validate(method, path_template, status, body)`` validates one answer with openapi-core against
the vendored document that defines the path (``docs/reference/opendelivery/``: the Customer
document for the capability's paths, the authentication one for ``/oauth/token``, the discovery one
for the manifest). Path templates are the standard's (``/loyalty/accounts/{accountId}``), with or
without our ``/v2`` prefix and trailing slash. ``/merchants`` (listMerchants) is in none of the three
documents: its errors are held to the Customer document's ``ErrorResponse`` and its pages to the
shape of the document's list responses.

Every difference is a *deviation* ``(operation, status, pointer, kind)``. It raises, unless
``allowlist.toml`` lists it for the running test, with its reason; and a listed entry must still
occur: each entry names the test(s) that produce it, and that test fails at teardown when the
entry did not occur in it (``od_allowlist_guard``, autouse in tests/opendelivery/conftest.py).
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema.exceptions import ValidationError as SchemaError
from openapi_core import OpenAPI
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from openapi_schema_validator import OAS31Validator

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference" / "opendelivery"
ALLOWLIST = Path(__file__).with_name("allowlist.toml")
# Paths that are in none of the three documents, with the schema their answers are held to.
UNDOCUMENTED = {("get", "/merchants"): "listMerchants", ("post", "/customer-events"): "receiveCustomerEvent"}
# Of those, the ones the Customer document defines only as a webhook the platform hosts (upstream
# serves them inbound): a success is the webhook's declared answer, with no body.
WEBHOOK_ANSWERS = {"receiveCustomerEvent": {204}}


@dataclass(frozen=True, order=True)
class Deviation:
    operation: str
    status: str
    pointer: str
    kind: str
    message: str = ""

    def key(self) -> tuple[str, str, str, str]:
        return self.operation, self.status, self.pointer, self.kind

    def as_toml(self, test: str) -> str:
        return (
            f'[[deviation]]\noperation = "{self.operation}"\nstatus = "{self.status}"\n'
            f'pointer = "{self.pointer}"\nkind = "{self.kind}"  # {self.message[:100]}\n'
            f'test = "{test}"\naccepted = "why this difference is right"  # or todo = "what will remove it"\n'
        )


class ConformanceError(AssertionError):
    pass


@dataclass(frozen=True)
class Document:
    name: str
    spec: dict[str, Any]
    openapi: OpenAPI
    host: str  # the scheme and host of the document's first server
    base: str  # its path (the Customer document's "/od/v2"): openapi-core matches paths under it


@functools.cache
def document(name: str) -> Document:
    spec = yaml.safe_load((REFERENCE / f"{name}.openapi.yaml").read_text())
    server = urlsplit(spec.get("servers", [{"url": "https://api.example.com"}])[0]["url"])
    return Document(
        name, spec, OpenAPI.from_dict(spec), f"{server.scheme}://{server.netloc}", server.path.rstrip("/")
    )


def standard_template(path_template: str) -> str:
    """``/v2/loyalty/rewards/`` -> ``/loyalty/rewards``; the manifest's path stays as it is."""
    template = path_template.split("?", 1)[0]
    if template.startswith("/v2/"):
        template = template[3:]
    if len(template) > 1:
        template = template.rstrip("/")
    return template or "/"


def document_of(template: str) -> Document:
    if template == "/.well-known/opendelivery":
        return document("discovery")
    if template.startswith("/oauth/"):
        return document("authentication")
    return document("customer")


def operation_id(doc: Document, method: str, template: str) -> str:
    item = doc.spec.get("paths", {}).get(template, {})
    return str(item.get(method.lower(), {}).get("operationId", f"{method.upper()} {template}"))


def _pointer(path: Any) -> str:
    # Array indexes become "*": one allowlist line covers every item of a list.
    return "".join(f"/{'*' if isinstance(part, int) else part}" for part in path)


def _explain(exc: BaseException) -> Iterator[tuple[str, str, str]]:
    """(pointer, kind, message) for each thing openapi-core found; kind is the JSON Schema keyword
    that failed (type, required, enum...), or the finder's complaint."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for link in chain:
        if isinstance(link, ResponseNotFound):
            yield "", "undocumented-status", str(link)
            return
        if isinstance(link, MediaTypeNotFound):
            yield "", "media-type", str(link)
            return
        if isinstance(link, PathNotFound):
            yield "", "undocumented-path", str(link)
            return
        if isinstance(link, OperationNotFound):
            yield "", "undocumented-method", str(link)
            return
        if isinstance(link, InvalidSchemaValue):
            for error in link.schema_errors:
                yield from _schema_error(error)
            return
    yield "", type(exc).__name__, str(exc)


def _schema_error(error: Any) -> Iterator[tuple[str, str, str]]:
    assert isinstance(error, SchemaError)
    pointer = _pointer(error.absolute_path)
    if error.validator == "required":
        missing = re.match(r"'(.+)' is a required property", error.message)
        pointer += f"/{missing.group(1) if missing else '?'}"
    yield pointer, str(error.validator), error.message


def _undocumented(operation: str, status: int, body: Any) -> set[Deviation]:
    """An answer of an operation no document defines, held to the Customer document's shapes."""
    schemas = document("customer").spec["components"]["schemas"]
    if status < 400 and operation in WEBHOOK_ANSWERS:
        if status not in WEBHOOK_ANSWERS[operation]:
            return {Deviation(operation, str(status), "", "undocumented-status", "the webhook answers 204")}
        return set() if body is None else {Deviation(operation, str(status), "", "media-type", "a body")}
    if status >= 400:
        schema = schemas["ErrorResponse"]
    else:
        page = schemas["CustomerListResponse"]
        schema = {**page, "required": ["items", "page", "pageSize", "total"]}
        schema = {**schema, "properties": {**page["properties"], "items": {"type": "array"}}}
    return {
        Deviation(operation, str(status), pointer, kind, message)
        for error in OAS31Validator(schema).iter_errors(body)
        for pointer, kind, message in _schema_error(error)
    }


def error_deviations(body: Any) -> set[Deviation]:
    """How an error body differs from the Customer document's ``ErrorResponse``."""
    return _undocumented("error", 400, body)


def deviations(
    method: str, path_template: str, status: int, body: Any, content_type: str = "application/json"
) -> set[Deviation]:
    """Every difference between this answer and the standard."""
    template = standard_template(path_template)
    undocumented = UNDOCUMENTED.get((method.lower(), template))
    if undocumented is not None:
        return _undocumented(undocumented, status, body)
    doc = document_of(template)
    operation = operation_id(doc, method, template)
    path = re.sub(r"\{[^}]+\}", "x", template)
    request = MockRequest(doc.host, method.lower(), doc.base + path, path_pattern=doc.base + template)
    data = b"" if body is None else json.dumps(body).encode()
    response = MockResponse(data, status, content_type=content_type)
    return {
        Deviation(operation, str(status), pointer, kind, message)
        for exc in doc.openapi.response_validator.iter_errors(request, response)
        for pointer, kind, message in _explain(exc)
    }


# --- The allowlist --------------------------------------------------------------------------------
@functools.cache
def allowlist() -> tuple[dict[str, str], ...]:
    entries = tomllib.loads(ALLOWLIST.read_text()).get("deviation", [])
    for entry in entries:
        assert ("todo" in entry) != ("accepted" in entry), f"one of todo/accepted, with its reason: {entry}"
        for name in ("operation", "status", "pointer", "kind", "test"):
            assert name in entry, f"an allowlist entry names its {name}: {entry}"
    return tuple(entries)


def _matches(entry: dict[str, str], found: Deviation) -> bool:
    return (
        fnmatchcase(found.operation, entry["operation"])
        and fnmatchcase(found.status, entry["status"])
        and fnmatchcase(found.pointer, entry["pointer"])
        and found.kind == entry["kind"]
    )


def _for_test(entry: dict[str, str], test: str) -> bool:
    return fnmatchcase(test, entry["test"])


class _Run:
    """The running test and the entries it met (set by ``od_allowlist_guard``)."""

    test = ""
    hits: set[int] = set()  # replaced per test


def od_validate(
    method: str, path_template: str, status: int, body: Any, *, content_type: str = "application/json"
) -> None:
    """Raise ``ConformanceError`` for every deviation of this answer that the allowlist does not
    list for the running test."""
    found = deviations(method, path_template, status, body, content_type)
    entries = allowlist()
    unexplained = []
    for deviation in sorted(found):
        listed = [
            index
            for index, entry in enumerate(entries)
            if _for_test(entry, _Run.test) and _matches(entry, deviation)
        ]
        if listed:
            _Run.hits.update(listed)
        else:
            unexplained.append(deviation)
    if unexplained:
        raise ConformanceError(
            f"{method.upper()} {path_template} {status} deviates from the standard; fix it or list it "
            f"in {ALLOWLIST.name}:\n" + "\n".join(d.as_toml(_Run.test) for d in unexplained)
        )


def od_validate_response(response: Any, method: str, path_template: str) -> Any:
    """``od_validate`` on a test client's response; returns its JSON body."""
    body = response.json() if response.content else None
    content_type = response.get("Content-Type", "application/json").split(";")[0].strip()
    od_validate(method, path_template, response.status_code, body, content_type=content_type)
    return body


def unmet_entries(test: str, hits: set[int]) -> list[dict[str, str]]:
    """The allowlist entries that name ``test`` and did not occur in it (``hits``: their indexes)."""
    return [entry for index, entry in enumerate(allowlist()) if _for_test(entry, test) and index not in hits]


@pytest.fixture
def od_allowlist_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each allowlist entry that names this test must have occurred in it."""
    _Run.test = request.node.nodeid
    _Run.hits = set()
    yield
    missed = unmet_entries(_Run.test, _Run.hits)
    _Run.test = ""
    if missed and not getattr(request.node, "od_failed", False):
        raise ConformanceError(
            f"allowlist entries that no longer occur in {request.node.nodeid}; remove them: {missed}"
        )

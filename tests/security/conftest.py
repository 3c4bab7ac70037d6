import pytest
from schemathesis.pytest.plugin import SchemathesisFunction


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One id per fuzzed operation: ``test_the_api_honours_its_schema[GET /api/v2/rewards/]``.

    schemathesis names each operation's test that way, but pytest 9 builds a test's id from its
    original name and parametrize ids only, so all of them got the bare function's id, and xdist,
    which schedules by id, ran one of them (tests/run_guard.py now fails such a run)."""
    for item in items:
        if isinstance(item, SchemathesisFunction) and item.operation_label and "[" not in item.nodeid:
            item._id = item.parent.id.child(item.originalname).with_params(item.operation_label)  # type: ignore[union-attr]

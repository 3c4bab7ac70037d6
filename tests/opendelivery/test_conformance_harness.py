"""The conformance harness itself: a deviation raises unless listed for the running test, and a
listed one that no longer occurs fails; every entry names tests that exist."""

import re
from fnmatch import fnmatchcase

import pytest

from tests.opendelivery import conformance
from tests.opendelivery.conformance import (
    ROOT,
    ConformanceError,
    allowlist,
    deviations,
    od_validate,
    unmet_entries,
)

ENTRY = {
    "operation": "listLoyaltyRewards",
    "status": "200",
    "pointer": "/items/*/name",
    "kind": "type",
    "test": "tests/x.py::test_y",
    "accepted": "example",
}


def test_a_conforming_answer_passes():
    od_validate("get", "/v2/loyalty/rewards/", 401, {"code": "UNAUTHORIZED", "message": "m", "details": []})
    assert (
        deviations("get", "/loyalty/rewards", 200, {"items": [], "page": 1, "pageSize": 50, "total": 0})
        == set()
    )


def test_a_deviation_is_found_with_its_pointer_and_keyword():
    found = deviations(
        "get", "/loyalty/rewards", 200, {"items": [{"name": 5}], "page": 1, "pageSize": 50, "total": 1}
    )
    assert ("listLoyaltyRewards", "200", "/items/*/name", "type") in {d.key() for d in found}
    assert {d.kind for d in deviations("get", "/loyalty/rewards", 418, {})} == {"undocumented-status"}
    assert {d.kind for d in deviations("get", "/nowhere", 200, {})} == {"undocumented-path"}


def test_an_unlisted_deviation_raises_with_the_entry_to_add():
    with pytest.raises(ConformanceError, match=r"\[\[deviation\]\]"):
        od_validate("get", "/loyalty/rewards", 401, {"message": "no code"})


def test_a_listed_deviation_passes_only_in_the_test_it_names(monkeypatch):
    monkeypatch.setattr(conformance, "allowlist", lambda: (ENTRY,))
    monkeypatch.setattr(conformance._Run, "test", "tests/x.py::test_y")
    monkeypatch.setattr(conformance._Run, "hits", set())
    # A rewards page whose one item has a number for a name (and lacks what else an item needs).
    body = {"items": [{"name": 5}], "page": 1, "pageSize": 50, "total": 1}
    found = {d.key() for d in deviations("get", "/loyalty/rewards", 200, body)}
    assert ENTRY_KEY in found
    monkeypatch.setattr(
        conformance, "deviations", lambda *args, **kwargs: {conformance.Deviation(*ENTRY_KEY)}
    )
    od_validate("get", "/loyalty/rewards", 200, body)
    assert conformance._Run.hits == {0}
    assert unmet_entries("tests/x.py::test_y", conformance._Run.hits) == []
    monkeypatch.setattr(conformance._Run, "test", "tests/x.py::test_other")
    with pytest.raises(ConformanceError):
        od_validate("get", "/loyalty/rewards", 200, body)


ENTRY_KEY = ("listLoyaltyRewards", "200", "/items/*/name", "type")


def test_a_listed_deviation_that_no_longer_occurs_is_reported(monkeypatch):
    monkeypatch.setattr(conformance, "allowlist", lambda: (ENTRY,))
    assert unmet_entries("tests/x.py::test_y", set()) == [ENTRY]
    assert unmet_entries("tests/x.py::test_unrelated", set()) == []


def test_every_entry_names_tests_that_exist():
    """A renamed test would leave its entries checked by nothing."""
    for entry in allowlist():
        file_part, _, function_part = entry["test"].partition("::")
        files = sorted(ROOT.glob(file_part))
        assert files, entry
        # A trailing [...] is the parameters' id (a glob of it): the function is what precedes it.
        function = (
            re.sub(r"\[[^\[\]]*\]$", "", function_part) if function_part.endswith("]") else function_part
        )
        names = {
            name for path in files for name in re.findall(r"^\s*def (test_\w+)\(", path.read_text(), re.M)
        }
        assert any(fnmatchcase(name, function) for name in names), entry

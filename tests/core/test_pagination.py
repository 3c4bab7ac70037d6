"""The paging parameters have one parser: the PageQuery the OpenAPI document shows is what every list
applies, so the document and the answers cannot disagree."""

import pytest

from core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageQuery, encode_cursor
from tests.conftest import assert_problem
from tests.factories import CouponFactory

pytestmark = pytest.mark.django_db

REFUSED = ["0", "101", "-1", "1.5", "abc", "\u0663", "1e2", " 5x"]


@pytest.mark.parametrize("raw", REFUSED)
def test_the_page_size_the_document_refuses_every_list_refuses(api, raw):
    assert not PageQuery(data={"page_size": raw}).is_valid()
    body = assert_problem(api.get("/api/v2/coupons/issued/", page_size=raw), 422, "validation-error")
    assert body["errors"] == [
        {"field": "page_size", "detail": f"must be an integer from 1 to {MAX_PAGE_SIZE}."}
    ], body


@pytest.mark.parametrize(("raw", "size"), [("", DEFAULT_PAGE_SIZE), ("1", 1), ("100", 100), (" 7 ", 7)])
def test_the_page_size_the_document_accepts_every_list_applies(api, customer, raw, size):
    query = PageQuery(data={"page_size": raw} if raw else {})
    assert query.is_valid(), query.errors
    assert query.validated_data["page_size"] == size
    CouponFactory.create_batch(2, customer=customer)
    response = api.get("/api/v2/coupons/issued/", page_size=raw)
    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == min(size, 2)


@pytest.mark.parametrize("raw", ["nope", encode_cursor("not-a-ksuid"), "%%%"])
def test_a_cursor_this_api_did_not_issue_is_refused(api, raw):
    body = assert_problem(api.get("/api/v2/coupons/issued/", cursor=raw), 422, "validation-error")
    assert body["errors"] == [{"field": "cursor", "detail": "is not a cursor this API issued."}], body

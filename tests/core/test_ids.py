"""KSUID ids: our encoder gives the library's strings, and ids stay ordered."""

import secrets

from hypothesis import given
from hypothesis import strategies as st
from ksuid import KsuidMs

from core.ids import base62_27, is_ksuid, new_id


@given(st.integers(min_value=0, max_value=(1 << 160) - 1))
def test_base62_matches_the_library(value):
    assert base62_27(value) == str(KsuidMs.from_bytes(value.to_bytes(20, "big")))


def test_base62_edges():
    for value in (0, 1, 61, 62, (1 << 160) - 1, int.from_bytes(secrets.token_bytes(20), "big")):
        assert base62_27(value) == str(KsuidMs.from_bytes(value.to_bytes(20, "big")))


def test_new_ids_are_ksuids_in_creation_order():
    ids = [new_id() for _ in range(2000)]
    assert all(is_ksuid(i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert str(KsuidMs.from_base62(ids[-1])) == ids[-1]

"""The throwaway Apple Wallet PKI (wallet.apple.dev_pki) as pytest fixtures: made at run time into
temporary files the WALLET_APPLE_* settings name. Nothing of it is committed; nothing of it is Apple's."""

from collections.abc import Iterator
from typing import Any

import pytest

from wallet.apple.dev_pki import PASS_TYPE_ID, TEAM_ID, ApplePki, make_pki

__all__ = ["PASS_TYPE_ID", "TEAM_ID", "ApplePki", "apple_configured", "apple_pki", "configure", "make_pki"]


@pytest.fixture(scope="session")
def apple_pki(tmp_path_factory: pytest.TempPathFactory) -> ApplePki:
    return make_pki(tmp_path_factory.mktemp("apple-pki"), key_password="test-only-password")


def configure(settings: Any, pki: ApplePki) -> None:
    for name, value in pki.settings().items():
        setattr(settings, name, value)


@pytest.fixture
def apple_configured(settings: Any, apple_pki: ApplePki) -> Iterator[ApplePki]:
    configure(settings, apple_pki)
    yield apple_pki

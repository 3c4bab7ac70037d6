import re
from datetime import datetime, timedelta
from typing import Protocol

import pytest
from django.utils import timezone


class Clock:
    """A frozen clock for the OTP services: ``clock.advance(minutes=6)``."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class OtpLog(Protocol):
    def codes(self) -> list[str]: ...
    def last_code(self) -> str: ...
    def lines(self) -> list[str]: ...


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr("otp.services.timezone.now", frozen)
    return frozen


@pytest.fixture
def otp_log(caplog: pytest.LogCaptureFixture) -> OtpLog:
    """The console sender's lines: ``otp_log.code_for("+55*******4321")``."""
    caplog.set_level("WARNING", logger="zupy.otp")

    class Log:
        def codes(self) -> list[str]:
            return [
                m.group(1)
                for r in caplog.records
                if (m := re.search(r"OTP for \S+: (\d{6})$", r.getMessage()))
            ]

        def last_code(self) -> str:
            codes = self.codes()
            assert codes, "the console sender logged no code"
            return codes[-1]

        def lines(self) -> list[str]:
            return [r.getMessage() for r in caplog.records]

    return Log()

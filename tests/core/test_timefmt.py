from datetime import timedelta

import pytest

from core.timefmt import duration_words


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(minutes=5), "5 minutes"),
        (timedelta(minutes=30), "30 minutes"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(days=1), "1 day"),
        (timedelta(seconds=90), "90 seconds"),
        (timedelta(seconds=1), "1 second"),
    ],
)
def test_a_duration_in_words(delta, words):
    assert duration_words(delta) == words

from datetime import UTC, datetime, timedelta, timezone

from visionyard.db.timestamps import as_utc


def test_a_naive_value_is_read_as_the_utc_it_was_written_in() -> None:
    assert as_utc(datetime(2026, 1, 2, 3, 4, 5)) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_an_aware_value_and_none_are_kept() -> None:
    plus_two = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert as_utc(plus_two) is plus_two
    assert as_utc(None) is None

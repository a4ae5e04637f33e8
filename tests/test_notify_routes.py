"""Who gets alerts where (DCABOT_ALERT_ROUTES), when LINE's quota resets, the retry key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import SettingsError
from bot.notify.channel_state import next_quota_reset
from bot.notify.delivery import Backoff, retry_key
from bot.notify.routes import Route, configured_people, parse_routes, person_for
from tests.conftest import make_settings

LINE_ID = "U4af4980629a1b2c3d4e5f60718293a4b"


def test_people_with_channels_in_order_of_preference() -> None:
    people = parse_routes(f"owner=line:{LINE_ID},telegram:123,terminal; ann=telegram:-100456")
    assert [p.name for p in people] == ["owner", "ann"]
    owner, ann = people
    assert owner.routes == (Route("line", LINE_ID), Route("telegram", "123"), Route("terminal"))
    assert ann.routes[0].is_group and not owner.routes[1].is_group
    assert person_for(people, "telegram:123") is owner
    assert person_for(people, "terminal:local") is owner
    assert person_for(people, "telegram:999") is None


def test_one_unnamed_person_is_called_by_their_first_channel() -> None:
    [person] = parse_routes(f"line:{LINE_ID},telegram:123")
    assert person.name == f"line:{LINE_ID}" and len(person.routes) == 2


def test_unset_routes_mean_each_admin_on_their_channel_plus_the_terminal() -> None:
    people = configured_people("", ("telegram:123", f"line:{LINE_ID}"))
    assert [(p.name, [str(r) for r in p.routes]) for p in people] == [
        ("telegram:123", ["telegram:123"]),
        (f"line:{LINE_ID}", [f"line:{LINE_ID}"]),
        ("terminal", ["terminal"]),
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("owner=whatsapp:1", "is not telegram:<chat id>, line:<id> or terminal"),
        ("owner=line:U12", "U, C or R and 32 hex digits"),
        ("owner=telegram:abc", "a telegram address is a chat id"),
        ("a=telegram:1;a=telegram:2", "'a' is listed twice"),
        ("a=telegram:1;b=telegram:1", "telegram:1 belongs to two people"),
        ("bad name=telegram:1", "is not a name"),
        ("owner=", "names nobody's channel"),
    ],
)
def test_a_bad_route_stops_start_up_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("DCABOT_ALERT_ROUTES", value)
    with pytest.raises(SettingsError) as error:
        make_settings(tmp_path)
    message = str(error.value)
    assert message.startswith("DCABOT_ALERT_ROUTES=") and problem in message
    assert "(e.g. DCABOT_ALERT_ROUTES=owner=line:U4af" in message and "\n" not in message


def test_line_quota_resets_at_midnight_in_the_owners_zone() -> None:
    bangkok = ZoneInfo("Asia/Bangkok")
    reset = next_quota_reset(datetime(2026, 12, 15, 9, 0, tzinfo=UTC), bangkok, 1)
    assert reset == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 1 Jan 00:00 in Bangkok
    just_after = next_quota_reset(datetime(2026, 11, 30, 17, 0, 1, tzinfo=UTC), bangkok, 1)
    assert just_after == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert next_quota_reset(datetime(2026, 3, 2, tzinfo=UTC), ZoneInfo("UTC"), 5).day == 5


def test_the_retry_key_is_stable_per_row_and_differs_across_databases() -> None:
    when = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    assert retry_key(7, when) == retry_key(7, when)
    assert retry_key(7, when) != retry_key(8, when)
    assert retry_key(7, when) != retry_key(7, when.replace(microsecond=1))


def test_backoff_doubles_up_to_the_limit() -> None:
    waits = [Backoff(first=2, most=30).after(n).total_seconds() for n in range(1, 7)]
    assert waits == [2, 4, 8, 16, 30, 30]

"""Authenticated webhooks never answer 500, LINE's signature is checked on the raw bytes, and
/health tells strangers only "ok" or "degraded".

Everything goes through the real app (tests/app_harness.py) with bodies signed as the platforms
sign them; a refused request must leave nothing behind: no claim, no reply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from tests.app_harness import (
    LINE_ADMIN,
    TG_ADMIN,
    TestClient,
    World,
    chat_settings,
    line,
    next_update_id,
    tg,
    world,
)
from tests.conftest import Clock
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.line_events import sign_line_body
from tests.fakes.telegram_api import FakeTelegramAPI, make_callback_update, make_message_update

__all__ = ["line", "tg", "world"]  # fixtures

HEALTH_TOKEN = "health-token_for-tests"


def _nothing_happened(world: World, before: dict[str, int], tg_calls: int, line_out: int) -> None:
    world.settle()
    assert world.counts() == before
    assert len(world.tg.calls_to("sendMessage")) == tg_calls
    assert len(world.line.deliveries) == line_out


def _snapshot(world: World) -> tuple[dict[str, int], int, int]:
    return world.counts(), len(world.tg.calls_to("sendMessage")), len(world.line.deliveries)


def _post_line_body(world: World, body: bytes, signature: str | bytes | None = None) -> int:
    signed = sign_line_body(world.line.channel_secret, body) if signature is None else signature
    answer = world.client.post("/webhook/line", content=body, headers={"X-Line-Signature": signed})
    return answer.status_code


# -- Telegram -----------------------------------------------------------------------------------


@pytest.mark.parametrize("update_id", [10**81, -1, 2**63, True, 1.5, "12", None])
def test_an_update_id_telegram_never_sends_is_refused_before_anything_runs(
    world: World, update_id: Any
) -> None:
    before = _snapshot(world)
    update = make_message_update(1, TG_ADMIN, TG_ADMIN, "/status")
    update["update_id"] = update_id
    answer = world.post_telegram(update)
    assert answer.status_code == 400
    assert "update_id" in answer.json()["error"]
    _nothing_happened(world, *before)


def test_the_largest_update_ids_are_accepted(world: World) -> None:
    for update_id in (0, 2**63 - 1):
        update = make_message_update(update_id, TG_ADMIN, TG_ADMIN, "/whoami")
        assert world.post_telegram(update).status_code == 200
    world.settle()
    assert world.counts()["ProcessedUpdate"] == 2
    assert len(world.tg.messages(TG_ADMIN)) == 2


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [33, 100_000])
def test_deeply_nested_json_is_refused_not_a_crash(world: World, depth: int) -> None:
    before = _snapshot(world)
    update = json.dumps(make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/status"))
    body = update[:-1].encode() + b', "x": ' + _nested(depth) + b"}"
    answer = world.post_telegram(body)
    assert answer.status_code == 400 and "nested" in answer.json()["error"]
    assert _post_line_body(world, b'{"events": [], "x": ' + _nested(depth) + b"}") == 400
    _nothing_happened(world, *before)


@pytest.mark.parametrize(
    "text",
    [
        "/whoami " + "[" * 200,  # brackets inside a string do not nest
        '/whoami "' + "{" * 200,  # nor after an escaped quote
        "/whoami \\",  # a string ending in a backslash still ends
    ],
)
def test_brackets_and_escapes_inside_strings_are_not_nesting(world: World, text: str) -> None:
    [answer] = world.telegram_says(text)
    assert "whoami" in (answer.text or "").lower() or "telegram:" in (answer.text or "")


def test_deep_nesting_after_a_string_ending_in_a_backslash_is_still_seen(world: World) -> None:
    update = make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/whoami \\")
    body = json.dumps(update)[:-1].encode() + b', "x": ' + _nested(40) + b"}"
    assert world.post_telegram(body).status_code == 400


def test_callback_data_longer_than_telegram_allows_is_refused(world: World) -> None:
    before = _snapshot(world)
    update = make_callback_update(next_update_id(), TG_ADMIN, TG_ADMIN, "cmd:/status" + "x" * 60)
    answer = world.post_telegram(update)
    assert answer.status_code == 400 and "64 bytes" in answer.json()["error"]
    _nothing_happened(world, *before)
    fits = make_callback_update(next_update_id(), TG_ADMIN, TG_ADMIN, "é" * 32)  # 64 bytes
    assert world.post_telegram(fits).status_code == 200


@pytest.mark.parametrize("text", [["/status"], 42, {"t": "/status"}])
def test_message_text_that_is_not_a_string_is_refused(world: World, text: Any) -> None:
    before = _snapshot(world)
    for user in (TG_ADMIN, 999):  # an admin's, and a stranger's (decided before the claim)
        update = make_message_update(next_update_id(), -1001, user, "/status", "group")
        update["message"]["text"] = text
        answer = world.post_telegram(update)
        assert answer.status_code == 400 and "text" in answer.json()["error"]
    _nothing_happened(world, *before)


# -- LINE ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["x" * 81, "", "01\x00X", "01\ud800X", "01 X\n", 42, None, ["01X"]]
)
def test_a_line_event_with_an_impossible_event_id_is_dropped_and_the_rest_run(
    world: World, key: Any
) -> None:
    odd = world.line.text_event("/whoami", LINE_ADMIN)
    odd["webhookEventId"] = key
    good = world.line.text_event("/whoami", LINE_ADMIN)
    body = json.dumps({"destination": world.line.bot_user_id, "events": [odd, good]}).encode()
    assert _post_line_body(world, body) == 200
    world.settle()
    assert world.counts()["ProcessedUpdate"] == 1  # only the good event was claimed
    assert len(world.line.messages_to(LINE_ADMIN)) == 1


def test_postback_data_longer_than_line_allows_is_dropped(world: World) -> None:
    before = _snapshot(world)
    long = world.line.postback_event("cmd:/status" + "x" * 300, LINE_ADMIN)
    assert world.post_line([long]).status_code == 200
    _nothing_happened(world, *before)


def test_line_signature_is_checked_on_the_raw_bytes_first(world: World) -> None:
    before = _snapshot(world)
    not_utf8 = b'{"events": [], "x": "\xff\xfe"}'
    assert _post_line_body(world, not_utf8, signature="d3Jvbmc=") == 401
    assert _post_line_body(world, not_utf8, signature="sigé".encode("latin-1")) == 401  # not ASCII
    assert _post_line_body(world, not_utf8) == 400  # signed, but not UTF-8
    body, headers = world.line.signed_webhook([world.line.text_event("/whoami", LINE_ADMIN)])
    tampered = body.replace(b"/whoami", b"/status")
    answer = world.client.post("/webhook/line", content=tampered, headers=headers)
    assert answer.status_code == 401
    _nothing_happened(world, *before)


# -- anything authenticated: 200 or a 4xx, never a 500 ------------------------------------------

_fast = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)  # one app for all examples of a test

_text = st.text(st.characters(codec=None), max_size=100)  # lone surrogates included
_leaf = st.none() | st.booleans() | st.integers(-(10**90), 10**90) | st.floats() | _text
_odd = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def _mostly(good: st.SearchStrategy[Any], edge: st.SearchStrategy[Any] = _odd) -> Any:
    """`good` seven times in ten, else `edge` (twice) or anything at all (once)."""
    pick = st.sampled_from([good] * 7 + [edge] * 2 + [_odd])
    return pick.flatmap(lambda strategy: strategy)


_ids = st.integers(-(2**65), 2**65) | st.sampled_from([TG_ADMIN, 0, -1001])
_sender = st.fixed_dictionaries(
    {"id": st.sampled_from([TG_ADMIN, 999]) | _ids, "is_bot": st.booleans(), "first_name": _text}
)
_chat = st.fixed_dictionaries(
    {"id": st.just(TG_ADMIN) | _ids, "type": st.sampled_from(["private", "group", "channel", "?"])}
)
_message = st.fixed_dictionaries(
    {"message_id": _ids, "date": st.integers(0, 2**31), "chat": _mostly(_chat)},
    optional={"from": _mostly(_sender), "text": _mostly(_text), "entities": _odd},
)
_telegram_update = st.fixed_dictionaries(
    {"update_id": _mostly(st.integers(0, 2**63 - 1), st.sampled_from([-1, 2**63, 10**80]))},
    optional={
        "message": _mostly(_message),
        "edited_message": _mostly(_message),
        "callback_query": _mostly(
            st.fixed_dictionaries(
                {"id": st.text(max_size=5), "from": _sender, "chat_instance": st.just("1")},
                optional={"data": _mostly(st.text(max_size=70)), "message": _mostly(_message)},
            )
        ),
        "future_kind": _odd,
    },
)


@_fast
@given(update=_telegram_update)
def test_odd_but_authenticated_telegram_updates_never_get_a_500(
    world: World, update: dict[str, Any]
) -> None:
    answer = world.post_telegram(json.dumps(update).encode())  # ASCII-escaped: lone surrogates too
    assert answer.status_code in (200, 400), answer.text
    event(f"{answer.status_code} {answer.text[:60]}")
    world.settle()


_source = st.fixed_dictionaries(
    {"type": st.sampled_from(["user", "group", "room"]), "userId": st.just(LINE_ADMIN)},
    optional={"groupId": st.just("C0"), "roomId": st.just("R0")},
)
_event_ids = st.from_regex(r"[0-9A-Z]{26}", fullmatch=True)
_well_formed = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["message", "postback", "follow", "unfollow", "join"]),
        "mode": st.just("active"),
        "timestamp": st.integers(0, 2**45),
        "webhookEventId": _event_ids,
        "deliveryContext": st.just({"isRedelivery": False}),
        "source": _source,
        "replyToken": st.text("0123456789abcdef", min_size=1, max_size=32),
        "message": st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "sticker"]), "id": st.just("1"), "text": _text}
        ),
        "postback": st.fixed_dictionaries({"data": st.text(max_size=320)}),
    }
)
_unusual = {  # what LINE never sends, field by field, next to anything at all
    "webhookEventId": st.text(st.characters(codec=None), max_size=2)
    | st.text("A", min_size=80, max_size=90)
    | _odd,
    "postback": st.fixed_dictionaries({"data": st.text(min_size=299, max_size=301)}) | _odd,
}


@st.composite
def _line_event(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed event with, mostly, one field made odd."""
    event = draw(_well_formed)
    field = draw(st.sampled_from([None, *_unusual, *event]))
    if field is not None:
        event[field] = draw(_unusual.get(field, _odd))
    return event


@_fast
@given(events=st.lists(_mostly(_line_event()), max_size=3), extra=_odd)
def test_odd_but_signed_line_bodies_never_get_a_500(
    world: World, events: list[Any], extra: Any
) -> None:
    body = json.dumps({"destination": "U0", "events": events, "extra": extra}).encode()
    status = _post_line_body(world, body)
    assert status in (200, 400)
    event(f"{status}, {world.counts()['ProcessedUpdate'] > 0} claimed so far")
    world.settle()


# -- /health --------------------------------------------------------------------------------------


def _as_peer(app: Any) -> Any:
    """The app as uvicorn serves it to a peer: `x-test-peer` becomes the scope's client address
    (and is removed), as the socket's address would be."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            peer = headers.pop(b"x-test-peer", b"203.0.113.7").decode()
            scope = {**scope, "client": (peer, 40000), "headers": list(headers.items())}
        await app(scope, receive, send)

    return wrapped


@contextmanager
def _health_client(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock, **extra: Any
) -> Iterator[TestClient]:
    app = create_app(chat_settings(tmp_path, tg, line, **extra), clock=clock, dispatch=False)
    with TestClient(_as_peer(app)) as client:
        yield client


@pytest.mark.parametrize("token", ["", HEALTH_TOKEN])
def test_health_details_only_for_loopback_or_the_token(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock, token: str
) -> None:
    with _health_client(tmp_path, tg, line, clock, health_token=token) as client:
        for peer, headers in (
            ("203.0.113.7", {}),
            ("10.0.0.5", {"Authorization": "Bearer wrong"}),
            ("127.0.0.1", {"X-Forwarded-For": "198.51.100.1"}),  # a local proxy forwarded it
            ("127.0.0.1", {"Forwarded": "for=198.51.100.1"}),
            ("::1", {"X-Forwarded-For": "127.0.0.1", "Authorization": "Bearer "}),
            ("2001:db8::1", {"Authorization": f"Basic {HEALTH_TOKEN}"}),
        ):
            answer = client.get("/health", headers={"x-test-peer": peer, **headers})
            assert (answer.status_code, answer.json()) == (200, {"status": "ok"}), (peer, headers)
        for peer in ("127.0.0.1", "::1"):
            details = client.get("/health", headers={"x-test-peer": peer}).json()
            assert details["version"] and details["exchange"]["name"] == "binance"
        authorised = client.get(
            "/health", headers={"x-test-peer": "203.0.113.7", "Authorization": f"Bearer {token}"}
        ).json()
        assert ("alerts" in authorised) is bool(token)
        proxied = client.get(
            "/health",
            headers={
                "x-test-peer": "127.0.0.1",
                "X-Forwarded-For": "198.51.100.1",
                "Authorization": f"bearer {token}",
            },
        ).json()
        assert ("channels" in proxied) is bool(token)

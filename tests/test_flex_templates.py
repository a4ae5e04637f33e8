"""Every Flex template renders into a bubble that line-bot-sdk's `FlexContainer` accepts and that
LINE's rules (as the fake LINE API checks them) allow, whatever the card holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from linebot.v3.messaging import FlexContainer, FlexMessage, Message

from bot.cards.line_flex import (
    MAX_BUBBLE_BYTES,
    QUICK_REPLIES,
    alt_text,
    available_templates,
    flex_bubble,
    line_messages,
)
from bot.cards.reply import Button, Field, Reply, Tone
from tests.fakes.line_validation import validate_messages

TEMPLATES = available_templates()

CHART_NEEDS_PUBLIC_URL = ("The chart is not shown here: LINE fetches pictures from the bot's "
                          "https address, and PUBLIC_URL is not set.")


def full_reply(kind: str, tone: Tone = Tone.INFO) -> Reply:
    return Reply(
        kind=kind,
        title="Buy BTC for 50.00 USDT? <b>&</b>",
        fields=(Field("Price", "83,523.36 USDT"), Field("ราคา", "٨٣٬٥٢٣")),
        lines=("A line of text.", 'Another, with "quotes" and {{braces}}.'),
        tone=tone,
        confirm_token="0123456789abcdef",
        buttons=(Button("Refresh", "/status"), Button("A very long button label", "/history")),
        footer="Confirm within 60 s.",
    )


def accepted(bubble: dict[str, object], reply: Reply) -> None:
    container = FlexContainer.from_dict(bubble)  # the SDK's model: raises when invalid
    message = FlexMessage(alt_text=alt_text(reply) or "dcabot", contents=container)
    assert validate_messages([message.to_dict()]) == []


def test_every_card_kind_has_a_template() -> None:
    needed = {"status", "buy_confirm", "order_result", "reserve", "schedules", "signal"}
    needed |= {"backtest", "error", "card", "alert"}
    assert needed <= set(TEMPLATES)


@pytest.mark.parametrize("kind", TEMPLATES)
def test_the_raw_template_is_a_bubble_with_a_title(kind: str) -> None:
    folder = Path(__file__).resolve().parents[1] / "flex_templates"
    raw = json.loads((folder / f"{kind}.json").read_text(encoding="utf-8"))
    assert raw["type"] == "bubble" and "{{title}}" in json.dumps(raw, ensure_ascii=False)


@pytest.mark.parametrize("kind", TEMPLATES)
@pytest.mark.parametrize("tone", list(Tone))
def test_a_full_card_renders_to_a_valid_bubble(kind: str, tone: Tone) -> None:
    reply = full_reply(kind, tone)
    bubble = flex_bubble(reply)
    accepted(bubble, reply)
    text = json.dumps(bubble, ensure_ascii=False)
    assert "Buy BTC for 50.00 USDT? <b>&</b>" in text and "__" not in text
    assert "c:0123456789abcdef:y" in text and "cmd:/history" in text


@pytest.mark.parametrize("kind", TEMPLATES)
def test_an_empty_card_still_renders_to_a_valid_bubble(kind: str) -> None:
    reply = Reply(kind=kind, title="")
    accepted(flex_bubble(reply), reply)


def test_an_unknown_kind_falls_back_to_the_plain_card() -> None:
    reply = Reply(kind="no_such_layout", title="Hello", lines=("x",))
    accepted(flex_bubble(reply), reply)


def test_a_huge_card_is_cut_below_the_bubble_limit() -> None:
    reply = Reply(
        kind="card",
        title="History",
        fields=tuple(Field(f"Order {i}", "ข" * 300) for i in range(60)),
        lines=tuple("ล" * 1500 for _ in range(40)),
    )
    bubble = flex_bubble(reply)
    assert len(json.dumps(bubble, ensure_ascii=False).encode()) <= MAX_BUBBLE_BYTES
    assert "cut short" in json.dumps(bubble, ensure_ascii=False)
    accepted(bubble, reply)


@pytest.mark.parametrize("image_url", ["https://bot.example/charts/a.png", None])
@pytest.mark.parametrize("quick", [True, False])
def test_messages_are_what_the_sdk_models_accept(image_url: str | None, quick: bool) -> None:
    reply = full_reply("signal")
    reply = Reply(kind="signal", title=reply.title, fields=reply.fields, image=Path("c.png"))
    messages = line_messages(reply, image_url=image_url, quick=quick)
    assert validate_messages(messages) == []
    models = [Message.from_dict(m) for m in messages]  # the SDK's own message models
    assert [m.to_dict() for m in models] == messages  # nothing the SDK would drop or change


def test_messages_carry_the_chart_or_why_not_and_quick_replies() -> None:
    reply = Reply(kind="signal", title="CDC", image=Path("chart.png"))
    card, image = line_messages(reply, image_url="https://bot.example/charts/a.png", quick=True)
    assert image["originalContentUrl"] == image["previewImageUrl"]
    assert [i["action"]["text"] for i in image["quickReply"]["items"]] == list(QUICK_REPLIES)
    assert "quickReply" not in card
    _, note = line_messages(reply, image_url=None, quick=False)
    assert note == {"type": "text", "text": CHART_NEEDS_PUBLIC_URL}

"""Taps on someone else's card, and floods of strangers, through the real app and SDKs.

A card answered to one person is theirs: a tap on it by a stranger or another member of a group
is a toast for the tapper alone (Telegram's answerCallbackQuery text; on LINE a message to the
tapper, never the group) and never edits the card. Refusals to strangers are paced for all of
them together, and a stranger's update costs no database claim.
"""

from __future__ import annotations

from bot.cards.taps import owner_tag
from bot.chat.channels import card_secret
from bot.chat.strangers import REFUSALS_PER_MINUTE
from tests.app_harness import (
    LINE_ADMIN,
    LINE_STRANGER,
    LINE_VIEWER,
    TG_ADMIN,
    TG_STRANGER,
    TG_VIEWER,
    World,
    flex_postbacks,
    line,
    next_update_id,
    tg,
    world,
)
from tests.fakes.line_events import line_user_id
from tests.fakes.telegram_api import make_callback_update, make_message_update
from tests.test_telegram_channel import GROUP, buttons, toasts, untagged

__all__ = ["line", "tg", "world"]  # fixtures
LINE_GROUP = "C" + "7" * 32


def test_a_card_carries_the_tag_of_the_person_it_answered(world: World) -> None:
    [card] = world.telegram_says("/status", chat=GROUP)
    tag = owner_tag(card_secret(world.settings), f"telegram:{TG_ADMIN}")
    assert buttons(card) == [f"cmd:/status~{tag}", f"cmd:/history~{tag}"]


def test_a_stranger_tapping_refresh_on_the_owners_card_gets_a_toast_and_changes_nothing(
    world: World,
) -> None:
    [card] = world.telegram_says("/status", chat=GROUP)
    before = card.text
    assert world.telegram_taps(buttons(card)[0], card, user=TG_STRANGER) == []
    assert world.tg.calls_to("editMessageText") == []
    assert world.tg.messages(GROUP)[0].text == before
    assert "Private bot: This bot answers only the people its owner allows. Your id is " \
        "telegram:999" in toasts(world)[-1]
    assert world.counts()["ProcessedUpdate"] == 1  # only the owner's /status was claimed


def test_a_viewer_tapping_the_owners_card_or_forging_its_data_never_edits_it(
    world: World,
) -> None:
    [card] = world.telegram_says("/status", chat=GROUP)
    before = card.text
    assert world.telegram_taps(buttons(card)[0], card, user=TG_VIEWER) == []
    assert "Not your card: This card is someone else's; send /status" in toasts(world)[-1]
    viewer_tag = owner_tag(b"guessed secret", f"telegram:{TG_VIEWER}")
    assert world.telegram_taps(f"cmd:/status~{viewer_tag}", card, user=TG_VIEWER) == []
    assert "Not your card" in toasts(world)[-1]
    # an untagged (forged or old) button in a group: the answer is a new message of its own
    [fresh] = world.telegram_taps("cmd:/status", card, user=TG_VIEWER)
    assert "Portfolio" in (fresh.text or "")
    assert world.tg.calls_to("editMessageText") == []
    assert world.tg.messages(GROUP)[0].text == before


def test_the_owner_refreshing_their_own_card_in_a_group_edits_it_in_place(world: World) -> None:
    [card] = world.telegram_says("/status", chat=GROUP)
    assert world.telegram_taps(buttons(card)[0], card) == []
    [edit] = world.tg.calls_to("editMessageText")
    assert edit.params["message_id"] == card.message_id
    assert untagged(buttons(world.tg.messages(GROUP)[0])) == ["cmd:/status", "cmd:/history"]


def test_a_flood_of_new_strangers_hears_at_most_the_budget_and_claims_nothing(
    world: World,
) -> None:
    refusals_before = len(world.tg.sent_messages)
    for index in range(REFUSALS_PER_MINUTE * 10):
        stranger = 5_000_000 + index
        update = make_message_update(next_update_id(), stranger, stranger, "/status")
        assert world.post_telegram(update).status_code == 200
        tap = make_callback_update(next_update_id(), stranger, stranger, "cmd:/status")
        assert world.post_telegram(tap).status_code == 200
    world.settle()
    refusals = len(world.tg.sent_messages) - refusals_before
    toasted = [t for t in toasts(world) if "Private bot" in t]
    assert refusals + len(toasted) == REFUSALS_PER_MINUTE
    assert world.counts()["ProcessedUpdate"] == 0
    [answer] = world.telegram_says("/status")  # the owner is answered at once meanwhile
    assert "Portfolio" in (answer.text or "")
    world.clock.advance(minutes=1)  # a new minute, a new budget
    assert world.telegram_says("/status", user=TG_STRANGER)


def test_a_stranger_in_a_group_chatting_costs_nothing_and_hears_nothing(world: World) -> None:
    assert world.telegram_says("good morning", user=TG_STRANGER, chat=GROUP) == []
    assert world.telegram_says("/status@some_other_bot", user=TG_STRANGER, chat=GROUP) == []
    [refusal] = world.telegram_says("/status", user=TG_STRANGER, chat=GROUP)
    assert "Private bot" in (refusal.text or "")


def test_line_a_tap_on_someone_elses_card_in_a_group_goes_to_the_tapper_alone(
    world: World,
) -> None:
    [card] = world.line_says("/status", group_id=LINE_GROUP)
    refresh = flex_postbacks(card)[0]
    tag = owner_tag(card_secret(world.settings), f"line:{LINE_ADMIN}")
    assert refresh == f"cmd:/status~{tag}"
    group_before = len(world.line.messages_to(LINE_GROUP))
    for user, says in ((LINE_VIEWER, "Not your card"), (LINE_STRANGER, "Private bot")):
        event = world.line.postback_event(refresh, user, group_id=LINE_GROUP)
        assert world.post_line([event]).status_code == 200
        world.settle()
        [private] = world.line.messages_to(user)[-1:]
        assert says in str(private), user
    assert len(world.line.messages_to(LINE_GROUP)) == group_before


def test_line_a_flood_of_new_strangers_hears_at_most_the_budget(world: World) -> None:
    before = len(world.line.pushes) + len(world.line.replies)
    events = [
        world.line.text_event("status", line_user_id(10_000 + index))
        for index in range(REFUSALS_PER_MINUTE * 5)
    ]
    for start in range(0, len(events), 20):
        assert world.post_line(events[start : start + 20]).status_code == 200
    world.settle()
    assert len(world.line.pushes) + len(world.line.replies) - before == REFUSALS_PER_MINUTE
    assert world.counts()["ProcessedUpdate"] == 0

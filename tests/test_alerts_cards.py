"""Every alert kind as a card on Telegram (HTML) and LINE (Flex, validated by the fake), mutes
that silence or skip, and the note a late alert carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.notify.alert_kinds import KINDS
from storage import alert_prefs, outbox
from storage.db import Database
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.notify_harness import (
    LINE_ANN,
    _ptb_timedelta,
    delivered,
    dispatching,
    enqueue,
    line,
    line_sender,
    people,
    rows,
    settled,
    telegram_sender,
    tg,
    wait_for,
)

__all__ = ["_ptb_timedelta", "line", "tg"]  # fixtures from the harness

CANDLE = "2026-11-20T17:00:00+00:00"
FILL = {
    "side": "buy",
    "symbol": "BTC/USDT",
    "exchange": "binance",
    "mode": "paper",
    "cause": "schedule",
    "amount": "0.00052",
    "cost": "49.92",
    "price": "96000.5",
    "fee": "0.00000052",
    "fee_asset": "BTC",
    "client_order_id": "dca-1-20261121",
    "requested_by": None,
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "order_filled": {**FILL, "cause": "buy_now", "requested_by": "telegram:42"},
    "dca_bought": FILL,
    "dca_reserved": {"exchange": "binance", "amount": "50", "reserve": "150", "trend": "down"},
    "dca_carried": {"exchange": "binance", "amount": "3", "carried": "6", "needed": "5"},
    "sold_on_red": {**FILL, "side": "sell", "cause": "flip_sell"},
    "sold_to_reserve": {**FILL, "side": "sell", "cause": "sell_now"},
    "reserve_deployed": {**FILL, "cause": "flip_buy"},
    "reserve_added": {"exchange": "binance", "amount": "100", "balance": "250"},
    "trend_flip": {"exchange": "binance", "symbol": "BTC/USDT", "trend": "up", "candle": CANDLE},
    "flip_not_acted": {"trend": "down", "reason": "nothing held to sell"},
    "s4_rotation": {"from": "BTC", "to": "PAXG", "candle": CANDLE, "shadow": True},
    "order_failed": {
        "side": "buy",
        "symbol": "BTC/USDT",
        "exchange": "binance",
        "mode": "paper",
        "cause": "schedule",
        "error": "Insufficient balance: 12 USDT free",
        "requested_quote": "50",
        "status": "rejected",
    },
    "below_minimum": {"amount": "3", "minimum": "5", "error": "below the 5 USDT minimum"},
    "circuit_open": {"exchange": "binance", "mode": "live", "reason": "5 timeouts in a row"},
    "circuit_closed": {"exchange": "binance", "mode": "live", "reason": "answered a probe"},
    "schedule_missed": {"schedule_id": 3, "due_at": CANDLE, "amount": "50", "reason": "down"},
    "schedule_changed": {"schedule_id": 3, "change": "paused", "requested_by": "telegram:42"},
    "daily_summary": {
        "day": "2026-11-20",
        "actions": {"buys": 1, "sells": 0, "bought": "49.92", "sold": "0",
                    "runs": {"buy": 1}},
        "accounts": [{"exchange": "binance", "mode": "live", "value": "10234.5",
                      "unrealized": "123.4", "realized": "0", "reserve": "150",
                      "invested": "9000"}],
        "next_run": CANDLE,
    },
    "bot_started": {"version": "0.1.0", "trading_on": "live mode on binance"},
    "runway_low": {"exchange": "binance", "mode": "live", "free": "350", "covered": 3,
                   "amount": "100", "at": CANDLE, "schedule_id": 1, "label": "Payday"},
    "run_unfunded": {"exchange": "binance", "mode": "live", "free": "50", "covered": 0,
                     "amount": "100", "at": CANDLE, "schedule_id": 1, "label": None},
    "bot_stopped": {"version": "0.1.0", "trading_on": "live mode on binance"},
    "trades_synced": {"exchange": "binance", "mode": "live", "linked": 3, "added": 1,
                      "corrected": []},
    "run_delayed": {
        "schedule_id": 3, "due_at": CANDLE, "exchange": "binance", "mode": "live",
        "reason": "Binance (live) did not answer", "retry_until": CANDLE,
    },
    "task_failed": {"task": "scheduler", "reason": "OperationalError: database is locked"},
    "exchange_paused": {
        "exchange": "binance", "mode": "live", "until": CANDLE,
        "reason": "banned this IP (HTTP 418), Retry-After 120 s",
    },
    "run_paused": {
        "schedule_id": 3, "due_at": CANDLE, "amount": "50", "exchange": "binance",
        "mode": "paper", "run": "schedule:3:2024-01-01T00:00:00+00:00",
    },
    "trading_paused": {"by": "telegram:42", "at": CANDLE},
    "trading_resumed": {"by": "telegram:42", "paused_at": CANDLE},
}
TITLES = {
    "dca_bought": "DCA bought: BTC/USDT",
    "trend_flip": "Trend flip: green (up)",
    "s4_rotation": "S4 would rotate BTC → PAXG",
    "order_failed": "Order failed: Buy BTC/USDT",
    "schedule_missed": "Scheduled DCA #3 missed",
    "daily_summary": "Daily summary for 2026-11-20",
    "trades_synced": "Trades synced from the exchange",
    "run_delayed": "Scheduled DCA #3 delayed",
    "task_failed": "Background work failed: scheduler",
    "exchange_paused": "Binance asked the bot to wait",
    "run_paused": "Scheduled DCA #3 skipped: paused",
    "trading_paused": "Trading paused",
    "trading_resumed": "Trading resumed",
}


def test_every_kind_has_a_sample() -> None:
    assert set(PAYLOADS) == set(KINDS)


async def test_every_kind_renders_on_telegram_and_line(
    db: Database, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    for kind, payload in PAYLOADS.items():
        enqueue(db, 1, kind=kind, payload=lambda n, p=payload: p)  # type: ignore[misc]
    senders = {
        "telegram": telegram_sender(tg, chat_per_second=100),
        "line": line_sender(line),
    }
    async with dispatching(db, people(f"a=telegram:42;b=line:{LINE_ANN}"), senders):
        await wait_for(lambda: settled(db), timeout=20)
    assert delivered(db) == 2 * len(PAYLOADS)
    tg_titles = [m.text.splitlines()[0] for m in tg.messages(42) if m.text]
    line_titles = [
        m["contents"]["header"]["contents"][0]["text"] for m in line.messages_to(LINE_ANN)
    ]
    assert len(tg_titles) == len(line_titles) == len(PAYLOADS)
    for kind, title in TITLES.items():
        index = list(PAYLOADS).index(kind)
        assert title in tg_titles[index] and title in line_titles[index]
    assert all(m.parse_mode == "HTML" for m in tg.messages(42))
    failed = tg.messages(42)[list(PAYLOADS).index("order_failed")]
    assert "Insufficient balance: 12 USDT free" in str(failed.text)
    assert line.messages_to(LINE_ANN)[0]["contents"]["header"]["backgroundColor"] == "#2E7D32"


async def test_mutes_skip_or_silence_and_late_alerts_say_when(
    db: Database, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    now = datetime.now(UTC)
    with db.transaction() as session:
        alert_prefs.set_mute(session, "a", "trend_flip", alert_prefs.MUTED, now)
        alert_prefs.set_mute(session, "a", "dca_bought", alert_prefs.SILENT, now)
        alert_prefs.set_mute(session, "b", "dca_bought", alert_prefs.SILENT, now)
    enqueue(db, 1, kind="trend_flip", payload=lambda n: PAYLOADS["trend_flip"])
    enqueue(db, 1, kind="dca_bought", payload=lambda n: FILL)
    enqueue(
        db,
        1,
        kind="dca_reserved",
        payload=lambda n: PAYLOADS["dca_reserved"],
        created_at=now - timedelta(hours=3, minutes=5),
    )
    senders = {"telegram": telegram_sender(tg, chat_per_second=100), "line": line_sender(line)}
    async with dispatching(db, people(f"a=telegram:42;b=line:{LINE_ANN}"), senders):
        await wait_for(lambda: settled(db))
    statuses = {(r.recipient, r.kind): r.status for r in rows(db) if r.recipient}
    assert statuses[("a", "trend_flip")] == outbox.MUTED
    assert statuses[("b", "trend_flip")] == outbox.DELIVERED
    sends = tg.calls_to("sendMessage")
    assert [c.params.get("disable_notification") for c in sends] == [True, False]
    pushes = line.calls_to("push")
    assert [p.params.get("notificationDisabled", False) for p in pushes] == [False, True, False]
    late = tg.messages(42)[-1].text or ""
    assert "(3 h 5 min ago)" in late and "Happened 20" in late
    assert "(3 h 5 min ago)" in json.dumps(line.messages_to(LINE_ANN)[-1]["contents"]["footer"])

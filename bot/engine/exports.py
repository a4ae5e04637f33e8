"""Exports: the books as CSV files a spreadsheet opens (`/export`, `dcabot export`).

Three files, one row per record, every exchange the bot trades on, each file written 0600 in a
fresh folder under `<data dir>/exports/`:

- `orders`: every order (its cause, side, market, status, amounts, price, fee, fee in USDT);
- `reserve`: every reserve ledger movement (the balance after it, per exchange and mode);
- `fees`: every fee paid, per currency, with its value in USDT when paid.

Times are UTC ISO-8601 (`time_utc`) and the owner's zone (`time_local`); amounts are the exact
decimals the database holds; a period is `[start, end)` on the record's time.
"""

from __future__ import annotations

import csv
import io
import secrets
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.i18n import _
from storage.models import Order, OrderFee, ReserveEntry

KINDS = ("orders", "reserve", "fees")
KEEP_S = 86_400
COLUMNS = {
    "orders": ("time_utc", "time_local", "exchange", "mode", "cause", "side", "symbol", "status",
               "base_amount", "quote_amount", "price", "fee", "fee_asset", "fee_value_usdt",
               "client_order_id", "requested_by"),
    "reserve": ("time_utc", "time_local", "exchange", "mode", "amount", "balance_after",
                "reason", "note"),
    "fees": ("time_utc", "time_local", "exchange", "mode", "cause", "asset", "amount",
             "value_usdt", "client_order_id"),
}


@dataclass(frozen=True, slots=True)
class ExportFile:
    kind: str
    path: Path
    rows: int


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _times(when: datetime, zone: ZoneInfo) -> tuple[str, str]:
    return when.isoformat(), when.astimezone(zone).isoformat()


def _inside(when: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or when >= start) and (end is None or when < end)


def _order_rows(engines: Sequence[Engine], zone: ZoneInfo, start: datetime | None,
                end: datetime | None) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for engine in engines:
        name, mode = engine.exchange.name, engine.exchange.mode
        with engine.db.transaction() as session:
            orders = session.scalars(select(Order).where(
                Order.exchange == name, Order.mode == mode).order_by(Order.id)).all()
            valued = _fee_values(session.scalars(select(OrderFee).where(
                OrderFee.order_id.in_([o.id for o in orders]))).all() if orders else [])
            for o in orders:
                if _inside(o.created_at, start, end):
                    rows.append((*_times(o.created_at, zone), name, mode, o.cause, o.side,
                                 o.symbol, o.status, o.filled_base, o.filled_quote, o.price,
                                 o.fee, o.fee_asset, valued.get(o.id), o.client_order_id,
                                 o.requested_by))
    return sorted(rows, key=lambda row: str(row[0]))


def _fee_values(fees: Iterable[OrderFee]) -> dict[int, Decimal | None]:
    values: dict[int, Decimal | None] = {}
    for fee in fees:
        known = values.get(fee.order_id, Decimal(0))
        values[fee.order_id] = None if known is None or fee.quote_value is None \
            else known + fee.quote_value
    return values


def _reserve_rows(engines: Sequence[Engine], zone: ZoneInfo, start: datetime | None,
                  end: datetime | None) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for engine in engines:
        name, mode = engine.exchange.name, engine.exchange.mode
        balance = Decimal(0)
        with engine.db.transaction() as session:
            for entry in session.scalars(select(ReserveEntry).where(
                    ReserveEntry.exchange == name, ReserveEntry.mode == mode)
                    .order_by(ReserveEntry.id)):
                balance += entry.amount
                if _inside(entry.created_at, start, end):
                    rows.append((*_times(entry.created_at, zone), name, mode, entry.amount,
                                 balance, entry.reason, entry.note))
    return sorted(rows, key=lambda row: str(row[0]))


def _fee_rows(engines: Sequence[Engine], zone: ZoneInfo, start: datetime | None,
              end: datetime | None) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for engine in engines:
        name, mode = engine.exchange.name, engine.exchange.mode
        with engine.db.transaction() as session:
            found = session.execute(
                select(OrderFee, Order).join(Order, Order.id == OrderFee.order_id)
                .where(Order.exchange == name, Order.mode == mode).order_by(OrderFee.id)
            ).all()
            for fee, order in found:
                when = order.updated_at
                if _inside(when, start, end):
                    rows.append((*_times(when, zone), name, mode, order.cause, fee.asset,
                                 fee.amount, fee.quote_value, order.client_order_id))
    return sorted(rows, key=lambda row: str(row[0]))


BUILDERS = {"orders": _order_rows, "reserve": _reserve_rows, "fees": _fee_rows}


def kinds_of(word: str | None) -> tuple[str, ...]:
    chosen = (word or "all").lower()
    if chosen == "all":
        return KINDS
    if chosen not in KINDS:
        raise UserError(_("{text} is not an export; use orders, reserve, fees or all").format(
            text=repr(chosen[:24])))
    return (chosen,)


def _forget_old(folder: Path) -> None:
    """Exports older than a day are gone (a link to them has expired long before)."""
    if not folder.is_dir():
        return
    cutoff = time.time() - KEEP_S
    for old in folder.iterdir():
        if old.is_dir() and old.stat().st_mtime < cutoff and len(old.name) == 16:
            shutil.rmtree(old, ignore_errors=True)


def write_exports(engines: Sequence[Engine], kinds: Sequence[str], folder: Path,
                  start: datetime | None = None, end: datetime | None = None, *,
                  prune: bool = False) -> list[ExportFile]:
    """Write the CSV files into a new private folder under `folder`; returns them. `prune`
    (the bot's own exports folder only) first removes the exports made over a day ago."""
    if start is not None and end is not None and end <= start:
        raise UserError(
            _("The end of an export comes after its start, e.g. 2026-01-01 2026-02-01"))
    zone = engines[0].settings.zone
    if prune:
        _forget_old(folder)
    place = folder / secrets.token_hex(8)
    place.mkdir(mode=0o700, parents=True)
    span = "-".join(f"{when:%Y%m%d}" for when in (start, end) if when is not None)
    written = []
    for kind in kinds:
        rows = BUILDERS[kind](engines, zone, start, end)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")  # RFC 4180, as spreadsheets expect
        writer.writerow(COLUMNS[kind])
        writer.writerows([_text(value) for value in row] for row in rows)
        path = place / f"dcabot-{kind}{'-' + span if span else ''}.csv"
        path.touch(mode=0o600)
        path.write_text(text.getvalue(), encoding="utf-8")
        written.append(ExportFile(kind, path, len(rows)))
    return written

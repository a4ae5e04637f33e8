"""Inbound updates already handled: Telegram `update_id`s and LINE `webhookEventId`s.

Both platforms deliver at least once (a slow answer, a restart, LINE's redelivery), so a webhook
first claims its update here. Exactly one claim of a key succeeds, across processes, because the
row is unique on (channel, update_key); the losers see a replay and do nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.models import ProcessedUpdate

MAX_KEY_LENGTH = 80
# Built once and run with parameters: compiling the statement anew cost three times the insert.
_CLAIM = {
    dialect: dialect.insert(ProcessedUpdate).on_conflict_do_nothing().returning(ProcessedUpdate.id)
    for dialect in (sqlite, postgresql)
}


def claim_update(db: Database, channel: str, update_key: str, now: datetime) -> bool:
    """Record `update_key` as handled on `channel`; False when it already was (a replay)."""
    if not update_key or len(update_key) > MAX_KEY_LENGTH:
        raise ValueError(f"an update key is 1 to {MAX_KEY_LENGTH} characters")
    statement = _CLAIM[sqlite if db.is_sqlite else postgresql]
    values = {"channel": channel, "update_key": update_key, "processed_at": now}
    with db.engine.begin() as connection:  # one statement: no ORM session needed
        inserted = connection.execute(statement, values).first()
    return inserted is not None


def forget_processed_before(db: Database, cutoff: datetime) -> int:
    """Drop claims older than `cutoff`: the platforms stop redelivering long before."""
    with db.engine.begin() as connection:
        result = connection.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
        )
    return int(result.rowcount or 0)

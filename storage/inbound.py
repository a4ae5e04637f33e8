"""Inbound updates already handled: Telegram `update_id`s and LINE `webhookEventId`s.

Both platforms deliver at least once (a slow answer, a restart, LINE's redelivery), so a webhook
first claims its update here. Exactly one claim of a key succeeds, across processes, because the
row is unique on (channel, update_key); the losers see a replay and do nothing.

The table stays bounded two ways, both run hourly by the web app: by age (a claim older than the
platforms' redelivery window protects nothing) and by count (each channel keeps its newest
`keep` claims, so however fast updates come, the table cannot outgrow that).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
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


def forget_beyond_newest(db: Database, keep: int) -> int:
    """Drop all but the newest `keep` claims of each channel (newest by id, the insertion
    order). A redelivery of a dropped one would run again, so `keep` must cover the
    redelivery window at the busiest rate the bot expects."""
    if keep < 1:
        raise ValueError("keep at least one claim per channel")
    dropped = 0
    with db.engine.begin() as connection:
        channels = connection.scalars(select(ProcessedUpdate.channel).distinct()).all()
        for channel in channels:
            oldest_kept = connection.scalar(
                select(ProcessedUpdate.id)
                .where(ProcessedUpdate.channel == channel)
                .order_by(ProcessedUpdate.id.desc())
                .offset(keep - 1)
                .limit(1)
            )
            if oldest_kept is None:
                continue  # `keep` or fewer
            result = connection.execute(
                delete(ProcessedUpdate).where(
                    ProcessedUpdate.channel == channel, ProcessedUpdate.id < oldest_kept
                )
            )
            dropped += int(result.rowcount or 0)
    return dropped

"""Each person's alert mutes, and what the dispatchers know about each chat channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import AlertChannelState, AlertMute

MUTED, SILENT = "muted", "silent"


def mutes_of(session: Session, person: str) -> dict[str, str]:
    """`{kind: level}` for one person; a kind not listed is heard normally."""
    rows = session.scalars(select(AlertMute).where(AlertMute.person == person)).all()
    return {row.kind: row.level for row in rows}


def all_mutes(session: Session) -> dict[str, dict[str, str]]:
    """`{person: {kind: level}}` for everyone who muted anything."""
    found: dict[str, dict[str, str]] = {}
    for row in session.scalars(select(AlertMute)).all():
        found.setdefault(row.person, {})[row.kind] = row.level
    return found


def set_mute(session: Session, person: str, kind: str, level: str | None, now: datetime) -> None:
    """Mute (`muted` / `silent`) or, with `level=None`, unmute one kind for one person."""
    row = session.scalar(
        select(AlertMute)
        .where(AlertMute.person == person, AlertMute.kind == kind)
        .with_for_update()
    )
    if level is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(AlertMute(person=person, kind=kind, level=level, updated_at=now))
    else:
        row.level, row.updated_at = level, now


def channel_states(session: Session) -> list[AlertChannelState]:
    return list(session.scalars(select(AlertChannelState).order_by(AlertChannelState.channel)))


def save_channel_state(
    session: Session,
    channel: str,
    *,
    state: str,
    until: datetime | None,
    reason: str,
    now: datetime,
) -> None:
    row = session.get(AlertChannelState, channel, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():  # another dispatcher may insert it at the same moment
                session.add(
                    AlertChannelState(
                        channel=channel,
                        state=state,
                        until=until,
                        reason=reason[:200],
                        updated_at=now,
                    )
                )
            return
        except IntegrityError:
            row = session.get(AlertChannelState, channel, with_for_update=True)
            assert row is not None
    row.state, row.until, row.reason, row.updated_at = state, until, reason[:200], now

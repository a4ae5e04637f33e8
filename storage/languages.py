"""The language each person chose (/lang), shared by every process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import PersonLanguage


def chosen(db: Database, person: str) -> str | None:
    with db.transaction() as session:
        row = session.get(PersonLanguage, person)
        return row.language if row is not None else None


def all_chosen(session: Session) -> dict[str, str]:
    """Every person's chosen language, by `channel:id` (the alert dispatcher's view)."""
    return {row.person: row.language for row in session.scalars(select(PersonLanguage))}


def choose(db: Database, person: str, language: str, now: datetime) -> None:
    """Remember `language` for `person` (one upsert: two at once cannot collide)."""
    dialect = sqlite if db.is_sqlite else postgresql
    statement = dialect.insert(PersonLanguage).values(
        person=person, language=language, updated_at=now
    ).on_conflict_do_update(
        index_elements=[PersonLanguage.person],
        set_={"language": language, "updated_at": now},
    )
    with db.transaction() as session:
        session.execute(statement)

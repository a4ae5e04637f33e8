"""Each person's language, shared by every process: chosen with /lang, or their chat app's as
last seen (a choice is never overwritten by the app's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import PersonLanguage


def stored(db: Database, person: str) -> tuple[str, bool] | None:
    """The person's language and whether they chose it (/lang), or None."""
    with db.transaction() as session:
        row = session.get(PersonLanguage, person)
        return (row.language, row.explicit) if row is not None else None


def chosen(db: Database, person: str) -> str | None:
    found = stored(db, person)
    return found[0] if found is not None else None


def all_chosen(session: Session) -> dict[str, str]:
    """Every person's language, by `channel:id` (the alert dispatcher's view)."""
    return {row.person: row.language for row in session.scalars(select(PersonLanguage))}


def choose(db: Database, person: str, language: str, now: datetime, *,
           explicit: bool = True) -> None:
    """Remember `language` for `person` (one upsert: two at once cannot collide). The app's
    language (`explicit=False`) never replaces a choice made with /lang."""
    dialect = sqlite if db.is_sqlite else postgresql
    statement = dialect.insert(PersonLanguage).values(
        person=person, language=language, explicit=explicit, updated_at=now
    ).on_conflict_do_update(
        index_elements=[PersonLanguage.person],
        set_={"language": language, "explicit": explicit, "updated_at": now},
        where=None if explicit else PersonLanguage.explicit.is_(False),
    )
    with db.transaction() as session:
        session.execute(statement)

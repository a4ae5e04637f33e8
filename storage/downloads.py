"""One-time download links: a random token whose SHA-256 names a file until it is fetched once
or expires. Taking a link is one conditional UPDATE, so two fetches at once (from two workers)
cannot both get the file."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, update

from storage.db import Database
from storage.models import DownloadLink


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def offer(db: Database, path: Path, expires_at: datetime) -> str:
    """A new link's token (43 url-safe characters) for `path`."""
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        session.add(DownloadLink(token_hash=_hash(token), path=str(path), expires_at=expires_at))
    return token


def peek(db: Database, token: str, now: datetime) -> Path | None:
    """The file of a link that can still be taken, without taking it (a preview, a HEAD)."""
    if not 20 <= len(token) <= 64:
        return None
    with db.transaction() as session:
        row = session.get(DownloadLink, _hash(token))
        usable = row is not None and row.used_at is None and row.expires_at > now
        return Path(row.path) if usable and row is not None else None


def take(db: Database, token: str, now: datetime) -> Path | None:
    """The file, once, before it expires; None for an unknown, used or expired token."""
    if not 20 <= len(token) <= 64:
        return None
    with db.transaction() as session:
        taken = session.execute(
            update(DownloadLink)
            .where(DownloadLink.token_hash == _hash(token), DownloadLink.used_at.is_(None),
                   DownloadLink.expires_at > now)
            .values(used_at=now)
            .returning(DownloadLink.path)
        ).scalar_one_or_none()
    return Path(taken) if taken is not None else None


def forget_before(db: Database, when: datetime) -> int:
    """Remove links that expired before `when` (their files are the caller's to delete)."""
    with db.transaction() as session:
        result = session.execute(delete(DownloadLink).where(DownloadLink.expires_at < when))
        return int(getattr(result, "rowcount", 0) or 0)

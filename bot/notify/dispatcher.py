"""The outbox dispatcher: fans alerts out to people, claims each person's oldest due alert,
delivers it (see `delivery`) and records what happened.

It runs beside the engine and never blocks it: the database work runs in `Database.run`, and the
engine only ever writes rows. Each person's alerts go one after another: when one is settled, the
person's next is claimed in the same transaction. Settlements are written in batches (one
transaction per batch, not per alert), which is what lets one process keep up with Telegram's
limits. Several dispatchers may share a database; a claim is a lease (`claimed_until`), so the
alerts of a dispatcher that died are taken over when it runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import speaking
from bot.notify.channel_state import ChannelBoard, next_quota_reset
from bot.notify.delivery import Backoff, ClaimedAlert, Delivery, Verdict
from bot.notify.outcomes import Sender
from bot.notify.routes import Person
from storage import alert_prefs, languages, outbox
from storage.db import Database
from storage.models import OutboxAlert

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Settled = tuple[ClaimedAlert, Verdict, "asyncio.Future[ClaimedAlert | None]"]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DispatcherOptions:
    lease: timedelta = timedelta(seconds=120)
    poll_s: float = 0.5  # how often to look for new alerts when idle
    claim_gap_s: float = 0.05  # at most this often when busy: a claim scans the backlog
    settle_gap_s: float = 0.01  # settlements gathered this long are written together
    max_claimed: int = 256  # people served at once (most wait for their chat's turn)
    backoff: Backoff = field(default_factory=Backoff)
    quota_reset_day: int = 1
    down_for: timedelta = timedelta(seconds=30)
    stop_grace_s: float = 10.0
    language: str = "en"  # of people who chose none with /lang (DCABOT_LANGUAGE)
    buddhist_era: bool = False  # Thai readers' years (DCABOT_BUDDHIST_ERA)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        people: Sequence[Person],
        senders: Mapping[str, Sender],
        *,
        zone: ZoneInfo,
        options: DispatcherOptions = DispatcherOptions(),
        clock: Clock = system_clock,
    ) -> None:
        self._db = db
        self._clock = clock
        self._options = options
        self._people = {p.name: p for p in people}
        self._reachable = [p.name for p in people if p.reachable_on(senders)]
        for person in people:
            if person.name not in self._reachable:
                log.warning(
                    "alerts for %s cannot be sent: none of their channels is set up", person.name
                )
        self.board = ChannelBoard(
            db,
            clock,
            quota_reset=lambda now: next_quota_reset(now, zone, options.quota_reset_day),
            down_for=options.down_for,
        )
        self._delivery = Delivery(
            senders, self.board, zone=zone, clock=clock, backoff=options.backoff
        )
        self._mutes: dict[str, dict[str, str]] = {}
        self._languages: dict[str, str] = {}  # channel:id -> chosen with /lang
        self._working: dict[str, asyncio.Task[None]] = {}  # person -> their alerts in hand
        self._to_settle: list[Settled] = []
        self._settle_wanted = asyncio.Event()
        self._person_free = asyncio.Event()
        self._stopping = False
        self._last_sync = 0.0
        self.counts: Counter[str] = Counter()  # verdicts so far, by status (for logs and tests)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then finish the sends in flight (within a grace)."""
        settler = asyncio.create_task(self._settle_loop())
        try:
            while not stop.is_set():
                try:
                    await self._round()
                except Exception:  # the database may be briefly unreachable: try again soon
                    log.exception("alert dispatcher round failed")
                await self._pause(stop)
        finally:
            with contextlib.suppress(Exception):  # what was written just before the stop (the
                await self._round()  # leader's goodbye) still goes out, within the grace
            self._stopping = True
            await self._finish()
            settler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await settler

    async def _round(self) -> None:
        if time.monotonic() - self._last_sync >= 1.0:
            self._last_sync = time.monotonic()
            await self.board.sync()
        room = self._options.max_claimed - len(self._working)
        busy = list(self._working)  # taken here: the thread must not read a changing dict
        for alert in await self._db.run(self._claim, room, busy):
            self._working[alert.person] = asyncio.create_task(self._serve(alert))

    async def _pause(self, stop: asyncio.Event) -> None:
        """Wait until someone's alerts are done (or the poll interval); then a little more."""
        self._person_free.clear()
        waiters = [asyncio.ensure_future(e.wait()) for e in (self._person_free, stop)]
        try:
            await asyncio.wait(
                waiters, timeout=self._options.poll_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        if not stop.is_set():
            await asyncio.sleep(self._options.claim_gap_s)

    def _claim(self, limit: int, busy: list[str]) -> list[ClaimedAlert]:
        """Fan out what was written for everyone, then claim; one transaction."""
        now = self._clock()
        with self._db.transaction() as session:
            while outbox.fan_out(session, self._reachable) == outbox.FAN_OUT_BATCH:
                pass
            self._mutes = alert_prefs.all_mutes(session)
            self._languages = languages.all_chosen(session)
            if limit <= 0:
                return []
            rows = outbox.claim_due(
                session, now=now, lease=self._options.lease, limit=limit, skip_recipients=busy
            )
            return [self._claimed(row, now) for row in rows]

    def _claimed(self, row: OutboxAlert, now: datetime) -> ClaimedAlert:
        return ClaimedAlert(
            id=row.id,
            person=str(row.recipient),
            kind=row.kind,
            payload=outbox.payload_of(row),
            urgent=row.urgent,
            created_at=row.created_at,
            attempts=row.attempts,
            deadline=now + self._options.lease * 0.75,
        )

    async def _serve(self, first: ClaimedAlert) -> None:
        """Deliver one person's alerts one after another, as long as the next one is due."""
        alert: ClaimedAlert | None = first
        try:
            while alert is not None:
                verdict = await self._verdict(alert)
                settled = asyncio.get_running_loop().create_future()
                self._to_settle.append((alert, verdict, settled))
                self._settle_wanted.set()
                alert = await settled
                self.counts[verdict.status] += 1
        except Exception:  # not recorded: the lease runs out and the alert is tried again
            log.exception("recording an alert for %s failed", first.person)
        finally:
            self._working.pop(first.person, None)
            self._person_free.set()

    async def _verdict(self, alert: ClaimedAlert) -> Verdict:
        person = self._people.get(alert.person)
        mute = self._mutes.get(alert.person, {}).get(alert.kind)
        try:
            with speaking(self._language_of(person),
                          in_buddhist_era=self._options.buddhist_era):
                return await self._delivery.deliver(alert, person, mute)
        except Exception as exc:
            log.exception("delivering alert %s failed", alert.id)
            retry_at = self._clock() + self._options.backoff.after(alert.attempts)
            error = f"internal error: {type(exc).__name__}"
            return Verdict(outbox.PENDING, error=error, next_attempt_at=retry_at)

    def _language_of(self, person: Person | None) -> str:
        """The language the person chose on one of their alert channels, else the default."""
        for route in person.routes if person is not None else ():
            if route.key in self._languages:
                return self._languages[route.key]
        return self._options.language

    async def _settle_loop(self) -> None:
        while True:
            await self._settle_wanted.wait()
            await asyncio.sleep(self._options.settle_gap_s)
            self._settle_wanted.clear()
            batch, self._to_settle = self._to_settle, []
            try:
                following = await self._db.run(self._settle, batch)
            except Exception as exc:
                for _, _, settled in batch:
                    settled.set_exception(exc)
                continue
            for alert, _, settled in batch:
                settled.set_result(following.get(alert.person))

    def _settle(self, batch: list[Settled]) -> dict[str, ClaimedAlert]:
        """Record the verdicts and claim the next alert of each person whose alert is done."""
        now = self._clock()
        settlements = [
            outbox.Settlement(alert.id, v.status, v.channel, v.error, v.next_attempt_at)
            for alert, v, _ in batch
        ]
        done = [alert.person for alert, v, _ in batch if v.status != outbox.PENDING]
        for alert, verdict, _ in batch:
            if verdict.status == outbox.PENDING:
                log.info("alert %s for %s waits: %s", alert.id, alert.person, verdict.error)
        with self._db.transaction() as session:
            outbox.settle_many(session, settlements, now)
            if self._stopping or not done:
                return {}
            rows = outbox.claim_due(
                session, now=now, lease=self._options.lease, limit=len(done), only_recipients=done
            )
            return {str(row.recipient): self._claimed(row, now) for row in rows}

    async def _finish(self) -> None:
        tasks = list(self._working.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self._options.stop_grace_s)
            for task in late:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*late, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.board.sync()

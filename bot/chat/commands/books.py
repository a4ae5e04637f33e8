"""/export and /sync: the books out as CSV files (orders, reserve, fees), and the exchange's
trade list in (trades made by hand, amounts corrected)."""

from __future__ import annotations

from bot.cards.reply import Field, Reply, Tone
from bot.chat.registry import Invocation, Registry
from bot.chat.roles import Role
from bot.engine.days import day_span as span
from bot.engine.days import parse_day
from bot.engine.errors import UserError
from bot.engine.exports import kinds_of, write_exports
from bot.engine.trade_sync import sync_trades
from bot.i18n import _

USAGE = "/export [orders|reserve|fees|all] [from YYYY-MM-DD] [to YYYY-MM-DD]"


def register(registry: Registry) -> None:
    @registry.add(
        "export",
        "Your orders, reserve movements and fees as CSV files",
        USAGE.replace("|", "/"),
        group="portfolio",
    )
    async def export(call: Invocation) -> Reply:
        args = list(call.args)
        kind = args.pop(0) if args and not args[0][:1].isdigit() else None
        if len(args) > 2:
            raise UserError(_("Give at most a kind and two dates, e.g. /export orders "
                              "2026-01-01"))
        kinds = kinds_of(kind)
        start = parse_day(args[0], "start") if args else None
        end = parse_day(args[1], "end") if len(args) > 1 else None
        accounts = call.services.accounts
        settings = accounts.settings
        since, until = span(start, end, settings.zone)
        files = await accounts.db.run(  # the database read, then the files written
            write_exports, list(accounts), kinds, settings.data_dir / "exports", since, until,
            prune=True,
        )
        counts = [(_("{file}: 1 row") if f.rows == 1 else _("{file}: {rows} rows")).format(
            file=f.path.name, rows=f.rows) for f in files]
        period = (_("From {start} to {end}, times in UTC.") if settings.timezone == "UTC"
                  else _("From {start} to {end}, times in UTC and {zone}.")).format(
            start=start or _("the start"), end=end or _("now"), zone=settings.timezone)
        return Reply(
            kind="text",
            title=_("Your export"),
            lines=(*counts, period),
            documents=tuple(f.path for f in files),
            tone=Tone.SUCCESS,
            footer=_("Columns: see README, Exports."),
        )

    @registry.add(
        "sync",
        "Read your trade list from the exchange: trades made by hand count from then on",
        "/sync",
        role=Role.ADMIN,
        group="portfolio",
    )
    async def sync(call: Invocation) -> Reply:
        if call.args:
            raise UserError(_("/sync takes nothing after it"))
        fields = []
        for engine in call.services.accounts:
            done = await sync_trades(engine)
            fields.append(Field(
                f"{done.exchange} {done.mode}",
                _("{linked} of the bot's, {added} made on the exchange, {corrected} "
                  "corrected").format(linked=done.linked, added=done.added,
                                      corrected=len(done.corrected))))
        return Reply(kind="text", title=_("Trades synced"), fields=tuple(fields),
                     tone=Tone.SUCCESS,
                     footer=_("Trades made on the exchange now count in /status and /profit."))

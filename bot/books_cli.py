"""`dcabot export [orders|reserve|fees|all] [--from DAY] [--to DAY] [--out DIR]`: the CSV files
of `/export`, written on this machine (a new folder under `--out`, default `./exports`);
`dcabot sync`, the trade list of every exchange into the books, as `/sync` does; and
`dcabot report [--chart FILE]`, each exchange's profit figures and performance chart."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.charts_profit import render_profit_chart
from bot.config import load_settings
from bot.engine.accounts import Accounts
from bot.engine.days import day_span as span
from bot.engine.days import parse_day
from bot.engine.exports import KINDS, kinds_of, write_exports
from bot.engine.profit_history import profit_history
from bot.engine.profit_report import profit_view
from bot.engine.setup import open_accounts
from bot.engine.trade_sync import sync_trades


def _on_every_exchange(work: Callable[[Accounts], Awaitable[None]]) -> int:
    """Open every exchange of the settings, run `work`, and close them all whatever happens."""
    accounts = open_accounts(load_settings())

    async def run() -> None:
        try:
            await work(accounts)
        finally:
            await accounts.close()

    try:
        asyncio.run(run())
    finally:
        accounts.db.dispose()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    kinds = kinds_of(args.kind)
    start = parse_day(args.start, "start") if args.start else None
    end = parse_day(args.end, "end") if args.end else None

    async def export(accounts: Accounts) -> None:
        since, until = span(start, end, accounts.settings.zone)
        files = await accounts.db.run(
            write_exports, list(accounts), kinds, Path(args.out), since, until
        )
        for file in files:
            print(f"{file.path}  {file.rows} rows")

    return _on_every_exchange(export)


def cmd_sync(args: argparse.Namespace) -> int:
    async def sync(accounts: Accounts) -> None:
        for engine in accounts:
            done = await sync_trades(engine)
            print(f"{done.exchange} {done.mode}: {done.linked} of the bot's, {done.added} "
                  f"made on the exchange, {len(done.corrected)} corrected")
            for line in done.corrected:
                print(f"  corrected {line}")

    return _on_every_exchange(sync)


def cmd_report(args: argparse.Namespace) -> int:
    """Each exchange's /profit figures, and with `--chart FILE` its performance chart."""

    async def report(accounts: Accounts) -> None:
        for engine in accounts:
            view = await profit_view(engine)
            pct = view.return_pct
            print(f"{engine.exchange.name} {engine.mode}: invested {view.invested:,.2f}, "
                  f"value {view.value:,.2f}, realized {view.realized:+,.2f}, unrealized "
                  f"{view.unrealized:+,.2f}, fees {view.fees_total:,.2f}, reserve "
                  f"{view.reserve:,.2f} USDT, return "
                  f"{f'{pct:+.2f}%' if pct is not None else 'n/a'}")
            if not args.chart:
                continue
            history = await profit_history(engine)
            if history is None:
                print("  nothing bought yet: no chart")
                continue
            target = Path(args.chart)
            if accounts.several:
                target = target.with_name(f"{target.stem}-{engine.exchange.name}"
                                          f"{target.suffix or '.png'}")
            print(f"  chart: {render_profit_chart(history, target)}")

    return _on_every_exchange(report)


def add_export_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = sub.add_parser("export", help="write your orders, reserve and fees as CSV files")
    export.add_argument("kind", nargs="?", default="all", metavar="|".join((*KINDS, "all")),
                        help="what to export (default all)")
    export.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day")
    export.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day")
    export.add_argument("--out", default="exports", help="folder for the files (default ./exports)")
    export.set_defaults(func=cmd_export)
    sync = sub.add_parser("sync", help="read the exchanges' trade lists into the books")
    sync.set_defaults(func=cmd_sync)
    report = sub.add_parser("report", help="profit figures per exchange, and a chart")
    report.add_argument("--chart", metavar="FILE.png", help="write the performance chart there")
    report.set_defaults(func=cmd_report)

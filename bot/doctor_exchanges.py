"""`dcabot doctor`'s exchange checks: for every account the bot may trade on, is the exchange
reachable, is this host's clock close to the exchange's, and do the stored keys work, may they
trade and (they should not) withdraw.

The exchange is asked through the bot's own ccxt adapter (`CcxtExchange`: the same client,
sandbox switch, base URL and signing), built without the listeners that write to the database:
the doctor looks, it changes nothing. Reads are tried once, each within the request timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from bot.config import Settings
from bot.doctor_report import Finding, Redactor, Status, in_thread, one_line
from bot.engine.context import system_clock
from bot.engine.errors import UserError
from bot.engine.exchange_keys import stored_credentials
from bot.exchanges.base import ExchangeError
from bot.exchanges.ccxt_calls import RetryPolicy
from bot.exchanges.ccxt_errors import is_authentication
from storage import credentials, schedules
from storage.credentials import ApiCredentials
from storage.db import Database

T = TypeVar("T")
CLOCK_WARN_S = 1.0
CLOCK_FAIL_S = RetryPolicy().recv_window_s  # an order request is valid for 5 s after signing
ONE_TRY = RetryPolicy(read_attempts=1)


def accounts(settings: Settings, db: Database | None) -> list[tuple[str, str]]:
    """(exchange, mode) pairs to check: the configured ones, every schedule's exchange (in its
    configured mode) and every exchange with stored keys (in their mode; keys stored before
    modes in the configured mode, or live when that is paper)."""
    mode = settings.mode.value
    found = [(name, settings.mode_for(name).value) for name in settings.exchanges]
    if db is not None:
        with db.transaction() as session:
            found += [
                (row.exchange, settings.mode_for(row.exchange).value)
                for row in schedules.active(session)
            ]
            legacy_mode = "live" if mode == "paper" else mode
            found += [
                (row.exchange, row.mode or legacy_mode)
                for row in credentials.listing(session, None)
            ]
    return list(dict.fromkeys(found))


def _api_url(settings: Settings, exchange_id: str) -> str:
    return {"binance": settings.binance_api_url, "okx": settings.okx_api_url}.get(exchange_id, "")


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ExchangeError | UserError) else one_line(exc)


async def check_account(
    settings: Settings, db: Database | None, exchange_id: str, mode: str, redact: Redactor
) -> list[Finding]:
    label = f"{exchange_id} {mode}"
    if mode == "paper":
        return [Finding(Status.OK, exchange_id, "paper: no keys needed")]
    keys, problem = None, ""
    if db is not None:
        try:
            keys = await in_thread(lambda: stored_credentials(db, settings, exchange_id, mode))
        except UserError as exc:
            problem = str(exc)
    if keys is not None:
        redact.add(keys.api_key, keys.secret, keys.passphrase)
    from bot.exchanges.ccxt_exchange import CcxtExchange

    try:
        exchange = CcxtExchange(
            exchange_id,
            mode,
            clock=system_clock,
            credentials=keys,
            base_url=_api_url(settings, exchange_id),
            timeout_s=settings.request_timeout_s,
            retry=ONE_TRY,
            circuit_failures=1000,
        )
    except ExchangeError as exc:
        return [Finding(Status.FAIL, label, str(exc))]
    try:
        return await _diagnose(exchange, settings, label, keys, problem)
    finally:
        await exchange.close()


async def _diagnose(
    exchange: Any, settings: Settings, label: str, keys: ApiCredentials | None, problem: str
) -> list[Finding]:
    timeout = settings.request_timeout_s

    async def timed(call: Awaitable[T]) -> T:
        return await asyncio.wait_for(call, timeout)

    try:
        offset_ms = await timed(exchange.sync_clock())
        await timed(exchange.market_rules(settings.symbol))
    except Exception as exc:
        return [Finding(Status.FAIL, label, f"unreachable: {_reason(exc)}")]
    where = _api_url(settings, exchange.name) or "its API"
    findings = [Finding(Status.OK, label, f"answers at {where}; {settings.symbol} is trading")]
    findings.append(_clock(f"{label} clock", offset_ms, exchange.title))
    name = f"{label} keys"
    if keys is None:
        findings.append(_no_keys(name, exchange.name, exchange.mode, problem))
        return findings
    try:
        await timed(exchange.calls.once("the balances", exchange.client.fetch_balance))
    except Exception as exc:
        if is_authentication(exc):
            message = (
                f"keys refused ({one_line(exc)}): check the API key and secret and the key's IP "
                f"whitelist, then store them again with `dcabot keys add {exchange.name} "
                f"--mode {exchange.mode}`"
            )
        else:
            message = f"could not check the keys: {_reason(exc)}"
        findings.append(Finding(Status.FAIL, name, message))
        return findings
    old = " (stored before modes)" if keys.legacy else ""
    shown = credentials.mask(keys.api_key)
    findings.append(Finding(Status.OK, name, f"key {shown}{old} accepted: balances read"))
    findings.append(await _permissions(exchange, f"{label} permissions", timed))
    return findings


def _clock(name: str, offset_ms: int, title: str) -> Finding:
    seconds = abs(offset_ms) / 1000
    side = "ahead of" if offset_ms > 0 else "behind"
    if seconds > CLOCK_FAIL_S:
        return Finding(
            Status.FAIL,
            name,
            f"this host's clock is {seconds:.1f} s {side} {title}'s, more than the "
            f"{CLOCK_FAIL_S:g} s an order request stays valid: the bot signs with the exchange's "
            "time, measured hourly, but turn on time sync now (`timedatectl set-ntp true`)",
        )
    if seconds > CLOCK_WARN_S:
        return Finding(
            Status.WARN,
            name,
            f"this host's clock is {seconds:.1f} s {side} {title}'s: the bot corrects for it, "
            "but turn on time sync (NTP, `timedatectl set-ntp true`) before it drifts further",
        )
    return Finding(Status.OK, name, f"within {seconds:.1f} s of {title}'s")


def _no_keys(name: str, exchange_id: str, mode: str, problem: str) -> Finding:
    if problem:
        return Finding(Status.FAIL, name, problem)
    add = f"`dcabot keys add {exchange_id} --mode {mode}`"
    if mode == "live":
        return Finding(Status.FAIL, name, f"no API keys stored: live trading needs them; {add}")
    return Finding(
        Status.WARN, name, f"no {mode} keys stored: prices are read, no order can be sent; {add}"
    )


async def _permissions(exchange: Any, name: str, timed: Any) -> Finding:
    """Trading on, withdrawals off, as the exchange reports the key's permissions."""
    client, what = exchange.client, "the key's permissions"
    try:
        if exchange.name == "binance":
            answer = await timed(
                exchange.calls.once(what, client.sapi_get_account_apirestrictions)
            )
            trade = bool(answer.get("enableSpotAndMarginTrading"))
            withdraw = bool(answer.get("enableWithdrawals"))
        elif exchange.name == "okx":
            answer = await timed(exchange.calls.once(what, client.private_get_account_config))
            granted = str((answer.get("data") or [{}])[0].get("perm", "")).split(",")
            trade, withdraw = "trade" in granted, "withdraw" in granted
        else:
            raise ExchangeError("dcabot reads key permissions on binance and okx only")
    except Exception as exc:
        return Finding(
            Status.OK if exchange.mode == "testnet" else Status.WARN,
            name,
            f"could not read permissions ({_reason(exc)}); the keys read balances: check in the "
            "exchange's API settings that spot trading is on and withdrawals are off",
        )
    if not trade:
        return Finding(
            Status.FAIL,
            name,
            "the key may not trade: turn on spot trading for it (Binance: Enable Spot & Margin "
            "Trading; OKX: Trade)",
        )
    if withdraw:
        return Finding(
            Status.WARN,
            name,
            "withdrawals are enabled on this key: a trading bot needs no withdrawal permission; "
            "turn it off, so that a leaked key cannot empty the account",
        )
    return Finding(Status.OK, name, "may trade, may not withdraw")

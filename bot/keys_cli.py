"""`dcabot keys add|list|remove|rotate-master`: exchange API keys, stored encrypted.

Keys are kept per (exchange, mode): testnet and live keys of one exchange are separate rows, and
`--mode` picks one (default: DCABOT_MODE when it is testnet or live, else live). Keys stored
before modes are listed as "any (stored before modes)" and serve every mode that has no keys of
its own; `keys remove <exchange> --mode any` deletes them.

Keys are typed at a prompt that does not echo, or piped in one per line (api key, secret, then
the passphrase for exchanges that need one, such as OKX), so they never land in shell history.
Nothing here prints a secret; `list` shows the first and last four characters of the API key.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from bot.config import Mode, Settings, load_settings
from bot.engine.errors import UserError
from bot.engine.exchange_keys import master_key, master_key_source
from storage import credentials
from storage.credentials import ApiCredentials, CredentialError
from storage.db import Database
from storage.master_key import ENV_NAME, MasterKeyError, encode_master_key, new_master_key


def add_keys_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = subparsers.add_parser("keys", help="exchange API keys, stored encrypted")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="store (or replace) the keys of an exchange for a mode")
    add.add_argument("exchange", help="ccxt exchange id, e.g. binance or okx")
    add.add_argument(
        "--mode",
        metavar="live|testnet",
        help="which keys these are: the exchange's sandbox (testnet) or the real account (live); "
        "default: DCABOT_MODE when it is testnet or live, else live",
    )
    add.set_defaults(func=cmd_keys_add)
    listing = actions.add_parser("list", help="the stored keys per exchange and mode, masked")
    listing.set_defaults(func=cmd_keys_list)
    remove = actions.add_parser("remove", help="delete the stored keys of an exchange for a mode")
    remove.add_argument("exchange")
    remove.add_argument(
        "--mode",
        metavar="live|testnet|any",
        help="the keys to delete (default: DCABOT_MODE when it is testnet or live, else live); "
        "any: the keys stored before keys were kept per mode",
    )
    remove.set_defaults(func=cmd_keys_remove)
    rotate = actions.add_parser("rotate-master", help="re-encrypt every key under a new master key")
    rotate.set_defaults(func=cmd_keys_rotate_master)


def _database(settings: Settings) -> Database:
    from bot.engine.setup import open_database

    return open_database(settings)


def _exchange_fields(name: str) -> tuple[str, bool]:
    """The ccxt id of `name` and whether it needs a passphrase; UserError when ccxt lacks it."""
    import ccxt

    exchange_id = name.strip().lower()
    if exchange_id not in ccxt.exchanges:
        raise UserError(
            f"unknown exchange {name!r}: ccxt has no such exchange id (e.g. binance, okx)"
        )
    required = getattr(ccxt, exchange_id)().requiredCredentials
    return exchange_id, bool(required.get("password"))


def _mode(args: argparse.Namespace, settings: Settings, exchange_id: str, *,
          legacy: bool = False) -> str | None:
    """The mode named by --mode, else the exchange's configured one (`DCABOT_MODE_OKX`, else
    `DCABOT_MODE`) when it is testnet or live, else live; None for `any` (the keys stored
    before modes) where `legacy` allows it."""
    if args.mode is None:
        configured = settings.mode_for(exchange_id)
        return configured.value if configured is not Mode.PAPER else Mode.LIVE.value
    mode = str(args.mode).strip().lower()
    if legacy and mode == "any":
        return None
    if mode not in credentials.MODES:
        allowed = "live, testnet or any" if legacy else "live or testnet"
        raise UserError(f"--mode {args.mode!r}: keys are stored for {allowed}")
    return mode


def _read_secret(label: str) -> str:
    if sys.stdin.isatty():
        value = getpass.getpass(f"{label}: ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    value = value.strip()
    if not value:
        raise UserError(f"the {label} is empty; nothing was stored")
    return value


def _now() -> datetime:
    return datetime.now(UTC)


def cmd_keys_add(args: argparse.Namespace) -> int:
    exchange_id, needs_passphrase = _exchange_fields(args.exchange)
    settings = load_settings()
    mode = _mode(args, settings, exchange_id)
    assert mode is not None
    master_key(settings, create=False)  # a malformed DCABOT_MASTER_KEY fails before any typing
    api_key = _read_secret(f"{exchange_id} {mode} API key")
    secret = _read_secret(f"{exchange_id} {mode} API secret")
    passphrase = _read_secret(f"{exchange_id} {mode} API passphrase") if needs_passphrase else None
    source = master_key_source(settings)
    created = not source.from_env and not source.key_file.exists()
    key = master_key(settings, create=True)
    assert key is not None
    keys = ApiCredentials(exchange_id, api_key, secret, passphrase)
    db = _database(settings)
    stored: set[str | None] = set()
    try:
        with db.transaction() as session:
            stored = _stored_modes(session, exchange_id)
            # what serves this mode now must open under this key: never mix master keys
            credentials.load(session, exchange_id, mode, key)
            credentials.store(session, keys, mode, key, _now())
    except CredentialError as exc:
        culprit = mode if mode in stored else "any"
        raise UserError(
            f"{exc}; nothing was stored (to start over: "
            f"`dcabot keys remove {exchange_id} --mode {culprit}`)"
        ) from None
    finally:
        db.dispose()
    if created:
        print(
            f"created the master key file {source.key_file} (mode 0600): back it up, the "
            "stored keys cannot be read without it"
        )
    verb = "replaced" if mode in stored else "stored"
    extra = " and passphrase" if passphrase else ""
    print(
        f"{verb} the {exchange_id} {mode} API key {credentials.mask(api_key)}, secret{extra}, "
        f"encrypted with {source.describe()}"
    )
    if None in stored:
        other = "testnet" if mode == "live" else "live"
        if other not in stored:
            print(
                f"the {exchange_id} keys stored before modes still serve {other} until you add "
                f"them with `dcabot keys add {exchange_id} --mode {other}`"
            )
        else:
            print(
                f"the {exchange_id} keys stored before modes serve no mode any more: "
                f"`dcabot keys remove {exchange_id} --mode any` deletes them"
            )
    return 0


def _stored_modes(session: Session, exchange_id: str) -> set[str | None]:
    """The modes `exchange_id` has keys for (None: stored before modes), opening none."""
    return {row.mode for row in credentials.listing(session, None) if row.exchange == exchange_id}


def cmd_keys_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    key = master_key(settings, create=False)
    db = _database(settings)
    try:
        with db.transaction() as session:
            rows = credentials.listing(session, key)
    finally:
        db.dispose()
    if not rows:
        print("no exchange keys stored; add them with `dcabot keys add <exchange> --mode <mode>`")
        return 0
    width = max(len(row.exchange) for row in rows)
    mode_width = max(len(row.mode_label) for row in rows)
    for row in rows:
        line = f"{row.exchange:<{width}}  {row.mode_label:<{mode_width}}  "
        line += f"key {row.masked_key}" if row.masked_key else f"unreadable: {row.problem}"
        line += "  + passphrase" if row.has_passphrase and row.masked_key else ""
        line += f"  added {row.created_at:%Y-%m-%d}"
        if row.rotated_at is not None:
            line += f"  re-encrypted {row.rotated_at:%Y-%m-%d}"
        print(line)
    return 0


def cmd_keys_remove(args: argparse.Namespace) -> int:
    exchange_id, _ = _exchange_fields(args.exchange)
    settings = load_settings()
    mode = _mode(args, settings, exchange_id, legacy=True)
    db = _database(settings)
    try:
        with db.transaction() as session:
            removed = credentials.remove(session, exchange_id, mode)
            legacy_left = mode is not None and None in _stored_modes(session, exchange_id)
    finally:
        db.dispose()
    which = f"{exchange_id} {mode}" if mode else f"{exchange_id} (stored before modes)"
    if removed:
        print(f"removed the {which} API keys")
    else:
        print(f"no {which} keys were stored")
    if legacy_left:
        print(
            f"the {exchange_id} keys stored before modes still serve {mode}: "
            f"`dcabot keys remove {exchange_id} --mode any` deletes them"
        )
    return 0 if removed else 1


def cmd_keys_rotate_master(args: argparse.Namespace) -> int:
    """New master key; every row re-encrypted in one transaction (all or none)."""
    settings = load_settings()
    source = master_key_source(settings)
    old = master_key(settings, create=False)
    db = _database(settings)
    try:
        with db.transaction() as session:
            if not credentials.listing(session, None):
                print("no exchange keys stored; nothing to re-encrypt")
                return 0
        if old is None:
            raise UserError(
                f"keys are stored but there is no master key to open them: set {ENV_NAME} or "
                f"restore {source.key_file}"
            )
        new = new_master_key()
        if not source.from_env:
            source.write_pending(new)  # on disk before any row depends on it
        try:
            with db.transaction() as session:
                count = credentials.reseal_all(session, old, new, _now())
        except CredentialError as exc:
            source.discard_pending()
            raise UserError(f"{exc}; no key was re-encrypted") from None
    except MasterKeyError as exc:
        raise UserError(str(exc)) from None
    finally:
        db.dispose()
    if source.from_env:
        print(f"re-encrypted {count} exchange key set(s). The new master key, shown once:")
        print(f"{ENV_NAME}={encode_master_key(new)}")
        print(f"Set it before the next start: the old {ENV_NAME} no longer opens the keys.")
    else:
        source.promote_pending()
        print(
            f"re-encrypted {count} exchange key set(s) under a new master key in "
            f"{source.key_file}; back it up again"
        )
    return 0

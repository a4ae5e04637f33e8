"""Regenerate the test fixtures in this folder from the shared market-data folder.

    python tests/data/make_fixtures.py ../shared/data            # write them here
    python tests/data/make_fixtures.py ../shared/data --check    # exit 1 if any differs

The daily candle files, the 3-symbol and legacy exchangeInfo subsets and the OKX instruments are
copied byte for byte. The 1h and 4h candle files keep the header and the rows (verbatim lines)
from their first candle up to a cut-off (see CANDLE_SPANS). `binance_exchange_info.json` keeps
the whole response (timezone, serverTime, rateLimits, exchangeFilters) with `symbols` reduced to
SYMBOLS, each entry verbatim; it is checked equal to the source but for the other symbols.
See SOURCES.md here for why each file and span was chosen.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

COPIED = (
    "btc_usdt_1d_binance.csv",
    "eth_usdt_1d_binance.csv",
    "paxg_usdt_1d_binance.csv",
    "binance_exchange_info_subset.json",
    "binance_exchange_info_legacy_2023-04-14_subset.json",
    "okx_instruments.json",
)
# file -> (first open time, last open time), both kept; the spans start at each file's first row
CANDLE_SPANS = {
    "btc_usdt_1h_binance.csv": ("2017-08-17T04:00:00Z", "2018-02-28T23:00:00Z"),
    "btc_usdt_4h_binance.csv": ("2017-08-17T04:00:00Z", "2018-02-28T20:00:00Z"),
    "paxg_usdt_1h_binance.csv": ("2020-08-28T12:00:00Z", "2020-12-31T23:00:00Z"),
}
EXCHANGE_INFO = "binance_exchange_info.json"
# the fake's three markets, BNBUSDT (pricing BNB fees), and two the fake has no candles for: a
# USDT market (no price) and a BTC-quoted one, as in the real listing
SYMBOLS = ("BTCUSDT", "ETHUSDT", "PAXGUSDT", "BNBUSDT", "DOGEUSDT", "ETHBTC")


def candle_span(text: str, first: str, last: str) -> str:
    header, *rows = text.splitlines(keepends=True)
    kept = [row for row in rows if first <= row.split(",", 1)[0] <= last]
    if not kept or kept[0].split(",", 1)[0] != first or kept[-1].split(",", 1)[0] != last:
        raise SystemExit(f"the span {first} .. {last} does not start and end on a candle")
    return header + "".join(kept)


def exchange_info_subset(text: str) -> str:
    full = json.loads(text)
    by_symbol = {entry["symbol"]: entry for entry in full["symbols"]}
    missing = [s for s in SYMBOLS if s not in by_symbol]
    if missing:
        raise SystemExit(f"{EXCHANGE_INFO} has no {', '.join(missing)}")
    subset = {**full, "symbols": [e for e in full["symbols"] if e["symbol"] in SYMBOLS]}
    assert list(subset) == list(full)  # same keys, same order
    assert {k: v for k, v in subset.items() if k != "symbols"} == {
        k: v for k, v in full.items() if k != "symbols"
    }
    assert all(entry == by_symbol[entry["symbol"]] for entry in subset["symbols"])
    return json.dumps(subset, indent=4) + "\n"


def fixtures(source: Path) -> dict[str, bytes]:
    made = {name: (source / name).read_bytes() for name in COPIED}
    for name, (first, last) in CANDLE_SPANS.items():
        text = (source / name).read_text(encoding="utf-8")
        made[name] = candle_span(text, first, last).encode()
    info = (source / EXCHANGE_INFO).read_text(encoding="utf-8")
    made[EXCHANGE_INFO] = exchange_info_subset(info).encode()
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="the shared data folder (../shared/data)")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (this folder)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    differ = []
    for name, content in sorted(fixtures(args.source).items()):
        target = args.out / name
        if args.check:
            if not target.is_file() or target.read_bytes() != content:
                differ.append(name)
            continue
        target.write_bytes(content)
        print(f"{len(content):>9,}  {target}")
    if differ:
        print(f"differ from {args.source}: {', '.join(differ)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Pure trading decisions: candles, indicators, CDC Action Zone, DCA/reserve/S4 rules, backtest.

Nothing in this package reads files, the network, a database or the clock, and nothing imports
from `bot` or `storage`: callers pass candles (closed ones) and state in, and get decisions and
figures back. That is what lets the backtester and the live engine share the very same rules.
"""

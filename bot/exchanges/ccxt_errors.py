"""What a ccxt exception means for an order, and a short reason that is safe to show in chat.

ccxt's class tree does not line up with the question that matters here, "could this request
have been carried out?" (facts pinned down in tests/test_fake_exchange.py):

* `NOT_PROCESSED`: 429/418 rate limits (`DDoSProtection`, `RateLimitExceeded`, siblings) and a
  clock outside the receive window (`InvalidNonce`): refused at the door, safe to send again later.
* `UNKNOWN`: a timeout, a dropped connection, a 5xx or an unreadable answer: the exchange may have
  placed the order. Only a look-up by client order id can tell.
* `REFUSED`: the exchange answered with a business error (Binance -1013 NOTIONAL is a `BadRequest`,
  not an `InvalidOrder`; -2010 and 51008 are `InsufficientFunds`, ...): nothing was placed.

ccxt's messages carry request URLs and raw bodies; `exchange_reason` keeps only the exchange's own
code and text (never a header, so never a key or passphrase).
"""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any

MAX_REASON = 160


OKX_OUTCOME_UNKNOWN = frozenset({"51149"})  # "Order timed out. Please try again."
OKX_EXPIRED = frozenset({"50036", "50037"})  # expTime passed on arrival / before processing


def _code(exc: BaseException) -> str | None:
    """The exchange's own code (OKX: the order's `sCode` before the envelope's `code`)."""
    found = re.search(r"\(code (-?\d+)\)$", exchange_reason(exc))
    return found.group(1) if found else None


class Outcome(Enum):
    NOT_PROCESSED = "not processed"
    UNKNOWN = "unknown"
    REFUSED = "refused"


def classify(exc: BaseException) -> Outcome:
    """How far a failed request may have got (see the module docstring)."""
    from ccxt.base import errors

    if is_authentication(exc):
        return Outcome.REFUSED
    if isinstance(exc, errors.DDoSProtection | errors.RateLimitExceeded | errors.InvalidNonce):
        return Outcome.NOT_PROCESSED
    if isinstance(exc, errors.OperationFailed):  # NetworkError, RequestTimeout, BadResponse, ...
        return Outcome.UNKNOWN
    code = _code(exc)
    if code in OKX_OUTCOME_UNKNOWN:  # ccxt raises these as a plain ExchangeError
        return Outcome.UNKNOWN
    if code in OKX_EXPIRED:  # the request's expTime passed before OKX acted on it
        return Outcome.NOT_PROCESSED
    if isinstance(exc, errors.BaseError):
        return Outcome.REFUSED
    return Outcome.UNKNOWN  # not from ccxt (e.g. a socket error leaking through): assume the worst


def is_clock_refusal(exc: BaseException) -> bool:
    """-1021 / 50102 (a timestamp outside the window) or 50036 / 50037 (expTime already past):
    the host's clock and the exchange's disagree."""
    from ccxt.base import errors

    return isinstance(exc, errors.InvalidNonce) or is_expired(exc)


def is_expired(exc: BaseException) -> bool:
    """OKX 50036 / 50037: the request's expTime had passed when OKX read it."""
    return _code(exc) in OKX_EXPIRED


def is_ccxt_error(exc: BaseException) -> bool:
    from ccxt.base import errors

    return isinstance(exc, errors.BaseError)


def is_transport_failure(exc: BaseException) -> bool:
    """What reads retry and the circuit breaker counts: ccxt got no business answer."""
    return is_ccxt_error(exc) and classify(exc) is not Outcome.REFUSED


def is_rate_limit(exc: BaseException) -> bool:
    from ccxt.base import errors

    return isinstance(exc, errors.DDoSProtection | errors.RateLimitExceeded)


def is_not_found(exc: BaseException) -> bool:
    from ccxt.base import errors

    return isinstance(exc, errors.OrderNotFound)


def is_duplicate_client_id(exc: BaseException) -> bool:
    """Binance -2010 "Duplicate order sent.", OKX 51016 "Duplicated clOrdId": it exists."""
    from ccxt.base import errors

    text = str(exc).lower()
    return isinstance(exc, errors.InvalidOrder) and ("duplicate" in text or "51016" in text)


def is_insufficient_funds(exc: BaseException) -> bool:
    from ccxt.base import errors

    return isinstance(exc, errors.InsufficientFunds)


def is_authentication(exc: BaseException) -> bool:
    """A refused key; ccxt reports Binance's -2015 as `DDoSProtection` once a call has succeeded."""
    from ccxt.base import errors

    if isinstance(exc, errors.AuthenticationError):
        return True
    return isinstance(exc, errors.DDoSProtection) and '"code": -2015' in str(exc).replace(
        '"code":-2015', '"code": -2015'
    )


def is_unknown_symbol(exc: BaseException) -> bool:
    from ccxt.base import errors

    return isinstance(exc, errors.BadSymbol)


def exchange_reason(exc: BaseException) -> str:
    """The exchange's own words ("Filter failure: NOTIONAL (code -1013)"), or what went wrong."""
    text = str(exc)
    brace = text.find("{")
    if brace >= 0:
        reason = _reason_from_body(text[brace:])
        if reason:
            return reason[:MAX_REASON]
    status = re.search(r"\s(\d{3})\s", text)
    described = _describe_kind(exc)
    if status:
        return f"{described} (HTTP {status.group(1)})"
    rest = text.split(" ", 1)[1] if " " in text else ""
    if rest and "http" not in rest.lower() and "{" not in rest:
        return rest[:MAX_REASON]  # ccxt's own sentence, e.g. "does not have market symbol X"
    return described


def _reason_from_body(raw: str) -> str | None:
    try:
        body: Any = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    code, message = body.get("code"), body.get("msg")
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        first = data[0]
        if first.get("sCode") not in (None, "", "0"):  # OKX: the order's own code beats "1"
            code, message = first.get("sCode"), first.get("sMsg") or message
    if not message:
        return None
    return f"{message} (code {code})" if code not in (None, "") else str(message)


def _describe_kind(exc: BaseException) -> str:
    from ccxt.base import errors

    kinds: list[tuple[type[BaseException], str]] = [
        (errors.RequestTimeout, "no answer in time"),
        (errors.DDoSProtection, "rate limited"),
        (errors.RateLimitExceeded, "rate limited"),
        (errors.OnMaintenance, "under maintenance"),
        (errors.ExchangeNotAvailable, "not available or connection lost"),
        (errors.NetworkError, "network error"),
        (errors.BadResponse, "unreadable answer"),
        (errors.AuthenticationError, "API key refused"),
    ]
    for kind, description in kinds:
        if isinstance(exc, kind):
            return description
    return type(exc).__name__

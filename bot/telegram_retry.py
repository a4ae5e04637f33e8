"""What Telegram's 429 asks for, read the same way by chat replies and by alert delivery."""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram.error import RetryAfter


def retry_after_seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds, be it an int or (with PTB_TIMEDELTA set) a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: float | timedelta = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)

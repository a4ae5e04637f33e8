"""The fake Telegram and LINE APIs in a process of their own, for `bench/webhook.py`.

Run by the benchmark as a child: it prints one JSON line with the fakes' addresses, then answers
JSON commands, one a line, on stdin (`register` LINE reply tokens, read what `telegram` and
`line` received, with the time each reply arrived). Closing stdin stops it. Keeping the fakes out
of the load generator's process means neither slows the other down through the GIL.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.fakes.line_api import FakeLineAPI
from tests.fakes.telegram_api import FakeTelegramAPI


def _telegram_report(tg: FakeTelegramAPI) -> dict[str, Any]:
    return {
        "sent": [[m.chat_id, m.sent_at, m.method] for m in tg.sent_messages],
        "refused": sum(1 for c in tg.calls if c.status != 200),
    }


def _line_report(line: FakeLineAPI) -> dict[str, Any]:
    return {
        "deliveries": [[d.kind, d.to, d.reply_token, d.time] for d in line.deliveries],
        "refused": sum(1 for c in line.calls if c.status != 200),
    }


def serve(tg: FakeTelegramAPI, line: FakeLineAPI) -> None:
    print(
        json.dumps(
            {
                "telegram_url": tg.url,
                "telegram_token": tg.token,
                "line_url": line.base_url,
                "line_token": line.channel_access_token,
                "line_secret": line.channel_secret,
                "line_bot_user_id": line.bot_user_id,
            }
        ),
        flush=True,
    )
    for raw in sys.stdin:
        command = json.loads(raw)
        answer: dict[str, Any] = {"ok": True}
        if command["op"] == "register":
            for token, to in command["tokens"]:
                line.register_reply_token(token, to, ttl=300.0)
        elif command["op"] == "telegram":
            answer = _telegram_report(tg)
        elif command["op"] == "line":
            answer = _line_report(line)
        elif command["op"] == "reset":
            tg.reset()
            line.reset()
        print(json.dumps(answer), flush=True)


def main() -> None:
    with FakeTelegramAPI() as tg, FakeLineAPI() as line:
        serve(tg, line)


if __name__ == "__main__":
    main()

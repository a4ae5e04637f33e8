"""The fake Telegram and LINE APIs in a process of their own, for `bench/webhook.py`.

Run by the benchmark as a child: it prints one JSON line with the fakes' addresses, then answers
JSON commands, one a line, on stdin (`register` LINE reply tokens, read what `telegram` and
`line` received, with the time each reply arrived, and the `texts` sent to some chats or reply
tokens). Closing stdin stops it. Keeping the fakes out
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


def _flex_texts(node: Any) -> list[str]:
    """Every `text` in a Flex message's contents, in order."""
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        for key, value in node.items():
            if key != "text":
                found += _flex_texts(value)
        return found
    if isinstance(node, list):
        return [text for item in node for text in _flex_texts(item)]
    return []


def _texts(tg: FakeTelegramAPI, line: FakeLineAPI, keys: list[str]) -> dict[str, Any]:
    """What was sent to these Telegram chat ids or LINE reply tokens: a text message's text, a
    Flex card's texts one a line."""
    wanted = set(keys)
    texts: dict[str, list[str]] = {}
    for m in tg.sent_messages:
        if m.chat_id in wanted:
            texts.setdefault(m.chat_id, []).append(m.text or m.caption or "")
    for d in line.deliveries:
        if d.reply_token in wanted:
            for message in d.messages:
                if message.get("type") == "text":
                    text = str(message.get("text", ""))
                else:
                    text = "\n".join(_flex_texts(message.get("contents")))
                texts.setdefault(d.reply_token, []).append(text)
    return {"texts": texts}


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
        elif command["op"] == "texts":
            answer = _texts(tg, line, command["keys"])
        elif command["op"] == "reset":
            tg.reset()
            line.reset()
        print(json.dumps(answer), flush=True)


def main() -> None:
    with FakeTelegramAPI() as tg, FakeLineAPI() as line:
        serve(tg, line)


if __name__ == "__main__":
    main()

"""Cards: what the owner reads, built once and shown by every channel.

A `Reply` (`reply.py`) is a card as data: title, label/value rows, lines, buttons, a chart, files.
Chat commands (`bot/chat`) and alerts (`alerts*.py`, from outbox payloads) both build them; the
renderers turn one into Telegram HTML (`telegram_html.py`), a LINE Flex bubble (`line_flex.py`)
or 80-column terminal text (`terminal_text.py`). Numbers are written one way (`format.py`).
Nothing here sends, stores or reads the exchange: chat and notify do that, and both import this.
"""

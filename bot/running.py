"""What a running bot is made of, as its parts see it: the command registry and its services,
the scheduler (when this process runs one) and the supervisor of its background tasks. Built by
`bot/runtime.py`; the web app and the channels take it without importing what builds it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.chat.registry import ChatServices, Registry
from bot.scheduler import DcaScheduler
from bot.supervisor import Supervisor


@dataclass
class Runtime:
    registry: Registry
    services: ChatServices
    scheduler: DcaScheduler | None
    supervisor: Supervisor

"""Who gets alerts, and where: people, each with channels in order of preference.

`DCABOT_ALERT_ROUTES` lists people separated by `;`; each is an optional `name=` and then routes
separated by `,`, the preferred first:

    owner=line:U4af4980629...,telegram:123456;ann=telegram:654321,terminal

A route is `telegram:<chat id>` (a negative id is a group), `line:<user, group or room id>`, or
`terminal` (the console / log). Without a name a person is called by their first route. Unset,
every admin in `DCABOT_ADMINS` is a person on their own channel, plus the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

TELEGRAM, LINE, TERMINAL = "telegram", "line", "terminal"
TERMINAL_PERSON = "terminal"
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
_ADDRESS = {
    TELEGRAM: re.compile(r"^-?\d{1,20}$"),
    LINE: re.compile(r"^[UCR][0-9a-f]{32}$"),
}


@dataclass(frozen=True, slots=True)
class Route:
    channel: str
    address: str = ""

    @property
    def key(self) -> str:
        """`channel:address`, as in DCABOT_ADMINS (`terminal:local` for the terminal)."""
        return f"{self.channel}:{self.address or 'local'}"

    @property
    def is_group(self) -> bool:
        return self.channel == TELEGRAM and self.address.startswith("-")

    def __str__(self) -> str:
        return self.channel if self.channel == TERMINAL else f"{self.channel}:{self.address}"


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who receives alerts; `name` is what the outbox and the mutes remember."""

    name: str
    routes: tuple[Route, ...]

    def reachable_on(self, channels: Iterable[str]) -> tuple[Route, ...]:
        usable = set(channels)
        return tuple(r for r in self.routes if r.channel in usable)


def parse_route(text: str) -> Route:
    text = text.strip()
    if text in (TERMINAL, f"{TERMINAL}:local"):
        return Route(TERMINAL)
    channel, _, address = text.partition(":")
    pattern = _ADDRESS.get(channel)
    if pattern is None:
        raise ValueError(f"{text!r} is not telegram:<chat id>, line:<id> or terminal")
    if not pattern.match(address):
        what = "a chat id" if channel == TELEGRAM else "U, C or R and 32 hex digits"
        raise ValueError(f"{text!r}: a {channel} address is {what}")
    return Route(channel, address)


def parse_routes(text: str) -> tuple[Person, ...]:
    """The people in a DCABOT_ALERT_ROUTES value (at least one); ValueError says what is wrong."""
    people: list[Person] = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep, rest = part.partition("=")
        if not sep:
            name, rest = "", part
        routes = tuple(parse_route(r) for r in rest.split(",") if r.strip())
        if not routes:
            raise ValueError(f"{part!r} names nobody's channel")
        name = name.strip() or str(routes[0])
        if not sep or _NAME.match(name):
            people.append(Person(name, routes))
        else:
            raise ValueError(f"{name!r} is not a name (letters, digits, _ . - up to 40)")
    if not people:
        raise ValueError("names nobody: give at least one person a channel")
    _check_unique(people)
    return tuple(people)


def _check_unique(people: Sequence[Person]) -> None:
    names = [p.name for p in people]
    twice = {n for n in names if names.count(n) > 1}
    if twice:
        raise ValueError(f"{sorted(twice)[0]!r} is listed twice")
    keys = [r.key for p in people for r in p.routes if r.channel != TERMINAL]
    shared = {k for k in keys if keys.count(k) > 1}
    if shared:
        raise ValueError(f"{sorted(shared)[0]} belongs to two people; give it to one")


def default_people(admins: Iterable[str]) -> tuple[Person, ...]:
    """Each admin on their own channel, and the terminal."""
    people = []
    for key in admins:
        channel, _, address = key.partition(":")
        route = Route(TERMINAL) if channel == TERMINAL else Route(channel, address)
        people.append(Person(key, (route,)))
    return (*people, Person(TERMINAL_PERSON, (Route(TERMINAL),)))


def configured_people(routes_text: str, admins: Iterable[str]) -> tuple[Person, ...]:
    return parse_routes(routes_text) if routes_text.strip() else default_people(admins)


def person_for(people: Iterable[Person], user_key: str) -> Person | None:
    """The person a chat user (`telegram:123`, `terminal:local`) is, if they get alerts."""
    for person in people:
        if any(route.key == user_key for route in person.routes):
            return person
    return None

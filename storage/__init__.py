"""What dcabot remembers: orders, the reserve ledger, schedules, settings, the alert outbox.

Imports nothing from `bot`: the engine calls into storage, never the other way round.
"""

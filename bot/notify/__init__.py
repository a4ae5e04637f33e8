"""Alert delivery: the outbox dispatcher, with rate limits, retries and fallback across channels.

The engine writes alerts into the outbox in the same transaction as the event; everything here
happens afterwards and never blocks the engine. See `dispatcher` for the loop, `delivery` for the
fallback rules, `routes` for who gets what where.
"""

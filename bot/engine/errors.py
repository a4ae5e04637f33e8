"""Errors whose message is written for the person in the chat."""


class UserError(Exception):
    """Bad input or a refused request: say what was wrong and what would be right."""

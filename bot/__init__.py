"""dcabot: dollar-cost averaging into Bitcoin, run from Telegram and LINE."""

__version__ = "0.1.0"

"""One command registry; the terminal, Telegram and LINE channels; card rendering."""

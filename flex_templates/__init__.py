"""LINE Flex bubble templates, shipped inside the package (see `bot.chat.line_render`)."""

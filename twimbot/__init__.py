"""twimbot: a Matrix bot that compiles a community's weekly news post.

The public surface is small: :func:`twimbot.config.load_config`, the store in
:mod:`twimbot.store`, the pure rendering in :mod:`twimbot.render` and the bot in
:mod:`twimbot.bot`. The command line lives in :mod:`twimbot.cli`.
"""

__version__ = "0.1.0"

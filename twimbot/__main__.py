"""Allow ``python -m twimbot``."""

from twimbot.cli import main

raise SystemExit(main())

"""User-facing errors: one line per problem and exit status 2, never a traceback."""

from __future__ import annotations


class HmsimError(Exception):
    """An error in the user's input (config, command line, result folder), reported without traceback."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class ConfigError(HmsimError):
    """A scenario or experiment config that fails validation; one problem per line: key path, value, rule."""

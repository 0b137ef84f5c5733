"""The user-error base class: a mistake in the user's input, named by file, line and field.

Every entry point (`dpig_tf.cli.run`) prints a `UserError` as one line,
`error: <file>[:<line>][: <field>]: <message>`, and exits 2; any other exception is a bug
and keeps its traceback (exit 1). The domain errors (DataError, ConfigError, ExportError,
MissingWeightsError, ...) derive from it. It is a ValueError so that code catching
ValueError keeps working.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad user input: what was expected and what was found.

    Args:
        message: what is wrong, "expected ..., found ..." where it fits.
        path: the offending file or folder, if any.
        line: 1-based line number in `path`, if any.
        field: the offending flag, config key or column (e.g. "--num", "stage1.steps").
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        super().__init__(self.location() + message)

    def location(self) -> str:
        """`file[:line]: [field: ]`, empty when nothing is known."""
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        if self.field:
            where += f"{self.field}: "
        return where


class UsageError(UserError):
    """A command-line flag value or flag combination that cannot work."""

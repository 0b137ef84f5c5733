"""The one exception type of the data layer: bad input named by file and line.

Reference: the project's bad-input rule (a clear error naming the file, line,
field and what was expected; never a traceback from inside TensorFlow).
"""

from __future__ import annotations

from dpig_tf.errors import UserError


class DataError(UserError):
    """Bad input data; the message names the file (and line) at fault.

    Args:
        message: what is wrong and what was expected.
        path: the offending file, if any.
        line: 1-based line number in `path`, if any.
        field: the offending column or key, if any.
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 field: str | None = None):
        super().__init__(message, path, line, field)

"""Errors users can act on. The CLI prints these as one clear line instead of a traceback."""


class XlingError(Exception):
    """Base class: the message says what is wrong and, where possible, how to fix it."""


class BadRowError(XlingError):
    """A dataset row is malformed. The message names file:line and the problem."""

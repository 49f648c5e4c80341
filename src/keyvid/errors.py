"""The one exception type that reaches the user as a message instead of a traceback."""


class KeyvidError(Exception):
    """A user-facing error: the message says what was wrong and what to do.

    The CLI prints ``error: <message>`` on one line and exits with status 2;
    ``--debug`` shows the traceback as well.
    """

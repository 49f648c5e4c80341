"""The one exception type that reaches the user as a message instead of a traceback."""


class KeyvidError(Exception):
    """A user-facing error: the message says what was wrong and what to do.

    The CLI prints ``error: <message>`` on one line and exits with status 2;
    ``--debug`` shows the traceback as well.
    """


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters), or its type:
    what a one-line error quotes of a library's multi-line message."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


class TrainingStopped(KeyboardInterrupt):
    """Training stopped on SIGINT or SIGTERM after finishing its step and saving a checkpoint.

    A ``KeyboardInterrupt`` so that code which already stops on Ctrl-C stops on it too;
    the CLI exits with 128 + the signal number, as a shell reports a killed process.
    """

    def __init__(self, signum: int, checkpoint: object) -> None:
        import signal

        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.checkpoint = checkpoint
        super().__init__(f"stopped by {self.signal_name}; checkpoint {checkpoint}")

"""The two kinds of error a user sees: their input is wrong (exit 2) or a step failed (exit 1)."""


class SignalsBatchError(Exception):
    """A failure with a message meant for the user; the CLI prints it and exits 1."""

    exit_code = 1


class InvalidInput(SignalsBatchError):
    """Definitions, settings or arguments that cannot work; the CLI exits 2."""

    exit_code = 2

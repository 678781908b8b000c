"""The one error type convert raises for anything a user can fix (bad run dir, target, data)."""


class ConvertError(ValueError):
    """A conversion that cannot go ahead; the message is one line naming the file and the problem."""

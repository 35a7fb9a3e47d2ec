"""Reading files: no judgement here. Readers raise a ``ReadError`` subclass with a human reason for bad
input; the checks turn those into findings."""


class ReadError(Exception):
    """A file could not be read as its format; ``str(error)`` is the reason, fit for a finding."""

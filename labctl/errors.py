"""Errors raised before anything reaches an instrument, and when the run file cannot be written."""


class StationError(ValueError):
    """A station file that cannot be read or used (message says what and where)."""


class LimitError(ValueError):
    """A request beyond a declared safety limit; raised before anything is sent."""


class RunFileError(ValueError):
    """A run file that cannot take this run (message says why); refused before anything starts."""


class StorageError(OSError):
    """Writing the run file failed or must stop mid-run (disk full, I/O error): the run stops,
    the instruments are shut down, and what was flushed before stays readable."""

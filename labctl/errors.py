"""Errors a station can raise before anything reaches an instrument."""


class StationError(ValueError):
    """A station file that cannot be read or used (message says what and where)."""


class LimitError(ValueError):
    """A request beyond a declared safety limit; raised before anything is sent."""

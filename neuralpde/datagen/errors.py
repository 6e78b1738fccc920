"""The errors of dataset generation; each message says what went wrong and what to do."""


class GenerationError(RuntimeError):
    """Generation cannot start or go on; the message says why and what to do."""


class BlowUpError(GenerationError):
    """A trajectory produced NaN/Inf or exceeded the CFL limit."""


class SolverStalledError(GenerationError):
    """An adaptive solver spent its step budget before the end of the time span."""

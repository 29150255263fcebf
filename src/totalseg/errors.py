"""Domain exceptions.

Every error a user can cause derives from :class:`TotalsegError`; the CLI turns it into one line
on stderr and exit code 2. Messages say what is wrong, what was given and what to do.
"""


class TotalsegError(Exception):
    """Base class of every error caused by input, configuration or environment."""


class InputError(TotalsegError):
    """An input image or argument cannot be used."""


class WeightsError(TotalsegError):
    """Model weights are missing, incomplete or do not fit the network."""


class OutputError(TotalsegError):
    """An output cannot be written."""


class DownloadError(TotalsegError):
    """A download failed after all retries or its content is not what was expected."""

"""Resumable HTTP downloads: retries with backoff, HTTP Range resume, md5 check, atomic rename.

The bytes go to ``<dest>.part``; an interrupted download (a dropped connection, a killed process)
resumes from what that file holds. Only a complete, verified file is renamed to ``dest``, so a file
at its final name is always whole.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from totalseg import __version__
from totalseg.errors import DownloadError

CHUNK_BYTES = 1 << 20
MAX_BACKOFF_S = 60.0
MAX_RETRY_AFTER_S = 120.0  # a longer Retry-After is not waited for; the usual backoff applies
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, ssl.SSLError)
_log = logging.getLogger(__name__)


class _Retryable(Exception):
    """One attempt failed in a way a later attempt may fix."""

    def __init__(self, reason: str, *, wait_s: float | None = None, restart: bool = False):
        super().__init__(reason)
        self.wait_s = wait_s
        self.restart = restart


@dataclass
class _Part:
    """The ``.part`` file and the md5 of the bytes it holds, updated as chunks are appended."""

    path: Path
    md5: Any = field(default_factory=hashlib.md5)
    n_bytes: int = 0

    def sync(self) -> int:
        """Make the md5 cover exactly the bytes on disk (re-reading them if needed); returns their count."""
        size = self.path.stat().st_size if self.path.exists() else 0
        if size != self.n_bytes:
            self.md5, self.n_bytes = file_md5(self.path), size
        return size

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)
        self.md5, self.n_bytes = hashlib.md5(), 0


def file_md5(path: Path) -> Any:
    """The md5 hash object of a file's bytes, read in chunks (call ``.hexdigest()`` on it)."""
    md5 = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            md5.update(chunk)
    return md5


def download(
    url: str,
    dest: Path,
    *,
    expected_md5: str | None = None,
    expected_size: int | None = None,
    retries: int = 8,
    backoff_s: float = 1.0,
    progress: bool = True,
    timeout_s: float = 60,
) -> Path:
    """Download ``url`` to ``dest``, resuming and retrying until the file is complete.

    An existing ``dest`` that matches ``expected_md5``/``expected_size`` (or any existing ``dest``
    when neither is given) is returned without touching the network. Otherwise the bytes stream to
    ``<dest>.part``; a ``.part`` left by an earlier run is resumed with an HTTP Range request (a
    server that ignores Range restarts the file). Server errors (5xx, 429), dropped connections,
    timeouts and short reads are retried with exponential backoff (``backoff_s * 2**n``, at most
    60 s, or the server's Retry-After when it is at most 120 s); an attempt that made progress does
    not use up a retry. The verified file is renamed to ``dest`` in one step.

    Args:
        url: http(s) URL; redirects are followed.
        dest: final path; its folder is created.
        expected_md5: hex md5 the file must have.
        expected_size: size in bytes the file must have; also used for the free-space check.
        retries: failed attempts in a row allowed after the first one.
        backoff_s: wait before the first retry, in seconds.
        progress: show a tqdm progress bar on stderr.
        timeout_s: socket timeout of the connection and of each read, in seconds.

    Returns:
        ``dest``.

    Raises:
        DownloadError: a 4xx answer (not 429), retries exhausted, not enough free space, a size or
            md5 mismatch (the partial file is then removed), or ``dest`` cannot be written.

    Examples:
        >>> download("https://example.org/big.zip", Path("big.zip"), expected_size=3 << 30)  # doctest: +SKIP
        PosixPath('big.zip')
    """
    dest = Path(dest)
    if dest.is_file() and _matches(dest, expected_md5, expected_size):
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {dest.parent} ({exc.strerror}); choose another folder") from None
    part = _Part(dest.with_name(dest.name + ".part"))
    _fetch(url, part, expected_size=expected_size, retries=retries, backoff_s=backoff_s,
           progress=progress, timeout_s=timeout_s, desc=dest.name)
    _finish(url, part, dest, expected_md5=expected_md5, expected_size=expected_size)
    return dest


def _matches(path: Path, expected_md5: str | None, expected_size: int | None) -> bool:
    if expected_size is not None and path.stat().st_size != expected_size:
        return False
    return expected_md5 is None or file_md5(path).hexdigest() == expected_md5.lower()


def _fetch(
    url: str, part: _Part, *, expected_size: int | None, retries: int, backoff_s: float, progress: bool,
    timeout_s: float, desc: str,
) -> None:
    """Run attempts until one completes the ``.part`` file; give up after ``retries`` failures in a row."""
    failures = 0
    while True:
        before = part.sync()
        try:
            _attempt(url, part, expected_size=expected_size, timeout_s=timeout_s, progress=progress, desc=desc)
            return
        except _Retryable as exc:
            if exc.restart:
                part.reset()
            failures = 0 if part.n_bytes > before else failures + 1
            if failures > retries:
                raise DownloadError(
                    f"downloading {url} failed {failures} times in a row (last: {exc}); check the connection "
                    "and run the same command again, it resumes where it stopped"
                ) from None
            wait_s = _wait_s(exc.wait_s, backoff_s=backoff_s, failures=failures)
            _log.warning("download of %s interrupted (%s); retrying in %.1f s", url, exc, wait_s)
            time.sleep(wait_s)


def _wait_s(retry_after_s: float | None, *, backoff_s: float, failures: int) -> float:
    if retry_after_s is not None and 0 <= retry_after_s <= MAX_RETRY_AFTER_S:
        return retry_after_s
    return min(backoff_s * 2 ** max(failures - 1, 0), MAX_BACKOFF_S)


def _attempt(url: str, part: _Part, *, expected_size: int | None, timeout_s: float, progress: bool, desc: str) -> None:
    """One request, appending what it receives to the ``.part`` file."""
    offset = part.n_bytes
    if expected_size is not None and offset >= expected_size:
        if offset == expected_size:
            return
        raise _Retryable(f".part file larger than the expected {expected_size} bytes", wait_s=0, restart=True)
    response = _open(url, offset, timeout_s)
    if response is None:  # the server says the .part file already holds the whole file
        return
    with response:
        total = _total_size(response, part, offset)
        if expected_size is not None and total is not None and total != expected_size:
            raise DownloadError(
                f"{url} has {total} bytes but {expected_size} were expected; check the URL or the expected size"
            )
        remaining = (total if total is not None else expected_size or 0) - part.n_bytes
        check_free_space(part.path.parent, remaining)
        _stream(response, part, total=total, progress=progress, desc=desc)


def _open(url: str, offset: int, timeout_s: float) -> http.client.HTTPResponse | None:
    """Send the request (with Range from ``offset``); ``None`` means the file is already complete."""
    request = urllib.request.Request(url, headers={"User-Agent": f"totalseg/{__version__}"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            if _range_total(exc.headers.get("Content-Range")) == offset:
                return None
            raise _Retryable("server refused to resume (HTTP 416)", wait_s=0, restart=True) from None
        if exc.code == 429 or exc.code >= 500:
            raise _Retryable(f"HTTP {exc.code}", wait_s=_retry_after_s(exc.headers.get("Retry-After"))) from None
        raise DownloadError(
            f"{url}: HTTP {exc.code} {exc.reason}; check the URL (or the mirror, if one was given)"
        ) from None
    except _NETWORK_ERRORS as exc:
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, socket.gaierror):
            # No name resolution usually means no network: say so now rather than after minutes of backoff.
            host = urllib.parse.urlsplit(url).hostname
            raise DownloadError(
                f"cannot resolve {host} ({exc.reason.strerror or exc.reason}); check the network connection"
            ) from None
        raise _Retryable(_describe(exc)) from None


def _total_size(response: http.client.HTTPResponse, part: _Part, offset: int) -> int | None:
    """The full file size, if the server says; restarts the ``.part`` file when the server ignored Range."""
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if response.status == 206:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", "").strip())
        if match is None or int(match[1]) != offset:
            raise _Retryable("server resumed at another offset than asked", wait_s=0, restart=True)
        if match[3] != "*":
            return int(match[3])
        return None if length is None else offset + length
    if offset:  # 200 to a Range request: the server sends the whole file again
        _log.info("server ignored the Range request; restarting the download")
        part.reset()
    return length


def _stream(response: http.client.HTTPResponse, part: _Part, *, total: int | None, progress: bool, desc: str) -> None:
    bar = tqdm(total=total, initial=part.n_bytes, unit="B", unit_scale=True, unit_divisor=1024,
               desc=desc, disable=not progress)
    try:
        with _open_part(part) as fh:
            while chunk := _read(response):
                try:
                    fh.write(chunk)
                except OSError as exc:
                    raise DownloadError(
                        f"cannot write {part.path} ({exc.strerror}); free space or choose another folder"
                    ) from None
                part.md5.update(chunk)
                part.n_bytes += len(chunk)
                bar.update(len(chunk))
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        bar.close()
    if total is not None and part.n_bytes < total:
        raise _Retryable(f"connection closed after {part.n_bytes} of {total} bytes")


def _open_part(part: _Part):
    try:
        return open(part.path, "ab")
    except OSError as exc:
        raise DownloadError(f"cannot write {part.path} ({exc.strerror}); choose another folder") from None


def _read(response: http.client.HTTPResponse) -> bytes:
    try:
        return response.read1(CHUNK_BYTES)
    except _NETWORK_ERRORS as exc:
        raise _Retryable(_describe(exc)) from None


def _finish(url: str, part: _Part, dest: Path, *, expected_md5: str | None, expected_size: int | None) -> None:
    """Check size and md5 of the ``.part`` file, then rename it to ``dest`` atomically."""
    size = part.sync()
    if expected_size is not None and size != expected_size:
        part.reset()
        raise DownloadError(f"{url}: got {size} bytes, expected {expected_size}; run the same command again")
    if expected_md5 is not None and part.md5.hexdigest() != expected_md5.lower():
        got = part.md5.hexdigest()
        part.reset()
        raise DownloadError(
            f"{url}: md5 {got} differs from the expected {expected_md5.lower()}; the download was corrupted "
            "or the file changed on the server, run the same command again"
        )
    if not part.path.exists():  # an empty file: nothing was written
        part.path.touch()
    os.replace(part.path, dest)


def check_free_space(folder: Path, n_bytes: int) -> None:
    """Raise :class:`DownloadError` unless ``folder``'s file system has ``n_bytes`` free.

    Examples:
        >>> check_free_space(Path("."), 0)
    """
    free = shutil.disk_usage(folder).free
    if n_bytes > free:
        raise DownloadError(
            f"not enough free space in {folder}: {tqdm.format_sizeof(n_bytes, 'B')} needed, "
            f"{tqdm.format_sizeof(free, 'B')} free; free space or choose another folder"
        )


def _retry_after_s(value: str | None) -> float | None:
    value = (value or "").strip()
    return float(value) if value.isdigit() else None


def _range_total(content_range: str | None) -> int | None:
    match = re.fullmatch(r"bytes \*/(\d+)", (content_range or "").strip())
    return int(match[1]) if match else None


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) if isinstance(exc, urllib.error.URLError) else None
    return f"{type(exc).__name__}: {reason if reason is not None else exc}"

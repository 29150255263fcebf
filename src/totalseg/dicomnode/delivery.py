"""Sending results back: C-STORE to a DICOM node (pynetdicom SCU) or STOW-RS to a DICOMweb server
(``POST {url}/studies`` with a ``multipart/related; type="application/dicom"`` body)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from totalseg.errors import InputError, TotalsegError


class DeliveryError(TotalsegError):
    """A result could not be sent (the receiver refused it or could not be reached)."""


@dataclass(frozen=True)
class CStoreTarget:
    """A DICOM node to C-STORE to, parsed from ``HOST:PORT:AET``.

    Examples:
        >>> CStoreTarget.parse("pacs.local:4242:ORTHANC")
        CStoreTarget(host='pacs.local', port=4242, ae_title='ORTHANC')
        >>> CStoreTarget.parse("pacs:x:AE")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: --send-to 'pacs:x:AE': expected HOST:PORT:AET ...
    """

    host: str
    port: int
    ae_title: str

    @classmethod
    def parse(cls, text: str) -> CStoreTarget:
        match = re.fullmatch(r"(.+):(\d{1,5}):([ -~]{1,16})", text.strip())
        if match is None or not 0 < int(match[2]) < 65536 or "\\" in match[3]:
            raise InputError(f"--send-to {text!r}: expected HOST:PORT:AET such as pacs.local:4242:ORTHANC "
                             "(AE title: 1-16 characters)")
        return cls(match[1], int(match[2]), match[3].strip())

    def describe(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


@dataclass(frozen=True)
class StowTarget:
    """A DICOMweb server's base URL (its ``/studies`` receives STOW-RS) and an optional Bearer token.

    Examples:
        >>> StowTarget.parse("http://127.0.0.1:8042/dicom-web").studies_url
        'http://127.0.0.1:8042/dicom-web/studies'
    """

    url: str
    token: str | None = None

    @classmethod
    def parse(cls, url: str, token: str | None = None) -> StowTarget:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url.strip()):
            raise InputError(f"--stow-url {url!r}: expected an http(s) URL such as http://pacs:8042/dicom-web")
        return cls(url.strip().rstrip("/"), token)

    @property
    def studies_url(self) -> str:
        return self.url if self.url.endswith("/studies") else f"{self.url}/studies"

    def describe(self) -> str:
        return self.studies_url


def send(files: Sequence[Path], target: CStoreTarget | StowTarget, *, calling_ae: str = "TOTALSEG",
         timeout_s: float = 60.0) -> None:
    """Send DICOM files to ``target``; raises :class:`DeliveryError` with one line when any is refused.

    Examples:
        >>> send([Path("seg.dcm")], CStoreTarget.parse("127.0.0.1:4242:ORTHANC"))  # doctest: +SKIP
    """
    if isinstance(target, StowTarget):
        stow(files, target, timeout_s=timeout_s)
    else:
        c_store(files, target, calling_ae=calling_ae, timeout_s=timeout_s)


def c_store(files: Sequence[Path], target: CStoreTarget, *, calling_ae: str, timeout_s: float = 60.0) -> None:
    """C-STORE each file over one association, proposing each file's SOP class and transfer syntax."""
    from pydicom import dcmread
    from pynetdicom import AE

    headers = [dcmread(path, stop_before_pixels=True) for path in files]
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    for ds in headers:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate(target.host, target.port, ae_title=target.ae_title)
    if not assoc.is_established:
        raise DeliveryError(f"C-STORE to {target.describe()}: association not established (refused, aborted or "
                            "unreachable); check --send-to and that the receiver knows this AE title")
    try:
        for path in files:
            try:
                status = assoc.send_c_store(path)
            except (ValueError, RuntimeError) as exc:  # no accepted context for this file, association lost
                raise DeliveryError(f"C-STORE of {path.name} to {target.describe()}: {exc}".splitlines()[0]) from None
            code = getattr(status, "Status", None)
            if code is None or code not in (0x0000, 0xB000, 0xB007, 0xB006):
                where = "no answer" if code is None else f"status 0x{code:04X}"
                raise DeliveryError(f"C-STORE of {path.name} to {target.describe()}: {where}")
    finally:
        assoc.release()


def stow(files: Sequence[Path], target: StowTarget, *, timeout_s: float = 60.0) -> None:
    """POST the files as one ``multipart/related; type="application/dicom"`` request (STOW-RS)."""
    boundary = uuid.uuid4().hex
    body = b"".join(b"--%s\r\nContent-Type: application/dicom\r\n\r\n%s\r\n" % (boundary.encode(), p.read_bytes())
                    for p in files) + b"--%s--\r\n" % boundary.encode()
    headers = {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
               "Accept": "application/dicom+json"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    request = urllib.request.Request(target.studies_url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:  # noqa: S310 - the configured URL
            reply.read()
            if reply.status != 200:  # 202: some instances were refused (PS3.18 10.5.3)
                raise DeliveryError(f"STOW-RS to {target.studies_url}: HTTP {reply.status}, not every instance stored")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"STOW-RS to {target.studies_url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"STOW-RS to {target.studies_url}: {reason}; check --stow-url") from None

"""File names from DICOM UIDs: a UID sent by a remote node is data, never a path."""

from __future__ import annotations

import hashlib
import re

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


def safe_uid_name(uid: object) -> str:
    """A file-system-safe name for a UID: the UID itself when it is a valid DICOM UID (digits and
    dots, at most 64 characters), else ``x`` and a SHA-1 of what was sent.

    Examples:
        >>> safe_uid_name("1.2.840.10008.5.1.4.1.1.2")
        '1.2.840.10008.5.1.4.1.1.2'
        >>> safe_uid_name("../../etc/passwd")
        'x936d7c04cd83ef945f6eac2c4d41e65deb49ce43'
        >>> safe_uid_name("")[:1]
        'x'
    """
    text = str(uid if uid is not None else "").strip().rstrip("\x00").strip()
    if len(text) <= 64 and _UID.fullmatch(text):
        return text
    return "x" + hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()

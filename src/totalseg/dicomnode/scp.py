"""The pynetdicom SCP: C-ECHO, and C-STORE of CT and MR images in the usual transfer syntaxes
(uncompressed, deflated, JPEG, JPEG-LS, JPEG 2000, RLE) into an :class:`~totalseg.dicomnode.inbox.Inbox`."""

from __future__ import annotations

import logging
from typing import Any

from totalseg.dicomnode.inbox import Arrival, Inbox
from totalseg.errors import TotalsegError

log = logging.getLogger("totalseg.dicomnode")

# CT, Enhanced CT, MR, Enhanced MR Image Storage
IMAGE_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1",
                     "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1")
TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2",  # implicit VR little endian
    "1.2.840.10008.1.2.1",  # explicit VR little endian
    "1.2.840.10008.1.2.1.99",  # deflated explicit VR little endian
    "1.2.840.10008.1.2.2",  # explicit VR big endian (retired, still sent by old scanners)
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",  # JPEG baseline, extended, lossless, lossless SV1
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",  # JPEG-LS lossless, near-lossless
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",  # JPEG 2000 lossless, JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE lossless
)
_OUT_OF_RESOURCES = 0xA700
_CANNOT_UNDERSTAND = 0xC000


def make_ae(ae_title: str, inbox: Inbox) -> tuple[Any, list]:
    """The application entity and its event handlers (for ``ae.start_server(..., evt_handlers=...)``).

    Examples:
        >>> ae, handlers = make_ae("TOTALSEG", Inbox(tmp_path))  # doctest: +SKIP
        >>> server = ae.start_server(("127.0.0.1", 11112), block=False, evt_handlers=handlers)  # doctest: +SKIP
    """
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=ae_title)
    ae.add_supported_context(Verification)
    for sop_class in IMAGE_SOP_CLASSES:
        ae.add_supported_context(sop_class, list(TRANSFER_SYNTAXES))
    ae.maximum_pdu_size = 0  # no limit on the PDUs we receive
    return ae, [(evt.EVT_C_ECHO, _on_echo), (evt.EVT_C_STORE, lambda event: _on_store(event, inbox))]


def _on_echo(event) -> int:
    return 0x0000


def _on_store(event, inbox: Inbox) -> int:
    """Store one instance; a header without a series or instance UID is refused with 0xC000."""
    try:
        ds = event.dataset
        arrival = Arrival(study_uid=str(ds.get("StudyInstanceUID", "")),
                          series_uid=str(ds.get("SeriesInstanceUID", "")), sop_uid=str(ds.get("SOPInstanceUID", "")),
                          modality=str(ds.get("Modality", "")), calling_ae=str(event.assoc.requestor.ae_title).strip())
    except Exception as exc:  # a header pydicom cannot decode
        log.warning("C-STORE refused: cannot read the header (%s)", type(exc).__name__)
        return _CANNOT_UNDERSTAND
    if not arrival.series_uid or not arrival.sop_uid:
        log.warning("C-STORE from %s refused: no SeriesInstanceUID or SOPInstanceUID", arrival.calling_ae)
        return _CANNOT_UNDERSTAND
    try:
        inbox.store(arrival, event.encoded_dataset(include_meta=True))
    except (OSError, TotalsegError) as exc:
        log.error("C-STORE from %s: cannot write the instance (%s)", arrival.calling_ae, exc)
        return _OUT_OF_RESOURCES
    return 0x0000

"""Fixtures of the DICOM node tests: small CT instances and a pynetdicom storage SCP that keeps what it receives."""

from __future__ import annotations

import socket

import pytest

pytest.importorskip("pynetdicom")

SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ct_instance(series_uid: str, sop_uid: str, *, study_uid: str = "1.2.3", sop_class: str = CT_STORAGE):
    """A small CT image instance (4x4 pixels) with the given UIDs."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID, ds.file_meta.MediaStorageSOPClassUID = ExplicitVRLittleEndian, sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality, ds.PatientID = study_uid, series_uid, "CT", "P1"
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = np.zeros((4, 4), np.int16).tobytes()
    return ds


@pytest.fixture(scope="session")
def ct_instance():
    """``ct_instance(series_uid, sop_uid, study_uid=..., sop_class=...)``: a small CT instance (4x4 pixels)."""
    return _ct_instance


@pytest.fixture(scope="session")
def free_port():
    """``free_port()``: a free TCP port on 127.0.0.1."""
    return _free_port


@pytest.fixture
def storage_scp():
    """A storage SCP on a free loopback port (AE ``RECEIVER``) accepting CT and SEG; ``.received``
    lists the datasets it stored, ``.calling`` the calling AE titles."""
    from pynetdicom import AE, evt

    class Receiver:
        port = _free_port()
        received: list = []
        calling: list = []

    def on_store(event):
        ds = event.dataset
        ds.file_meta = event.file_meta
        Receiver.received.append(ds)
        Receiver.calling.append(str(event.assoc.requestor.ae_title).strip())
        return 0x0000

    Receiver.received, Receiver.calling = [], []
    ae = AE(ae_title="RECEIVER")
    for sop_class in (CT_STORAGE, SEG_STORAGE):
        ae.add_supported_context(sop_class)
    server = ae.start_server(("127.0.0.1", Receiver.port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    yield Receiver
    server.shutdown()

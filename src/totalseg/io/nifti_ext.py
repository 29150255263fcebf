"""Label names inside a NIfTI file: the official tool's multilabel header extension.

The official TotalSegmentator stores ``label id -> name`` in a NIfTI-1 header extension with
code 0 whose content is a Caret-style XML label table (``nifti_ext_header.py``). This module writes
byte-identical extensions and reads them back without extra dependencies.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

import nibabel as nib

from totalseg.errors import InputError

LABEL_EXTENSION_CODE = 0
"""The extension code the official tool uses (0, "unknown"; Caret's own code would be 30)."""

_COLORS = (
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255),
    (255, 128, 0), (255, 0, 128), (128, 255, 128), (0, 128, 255), (128, 128, 128), (185, 170, 155),
)  # fmt: skip
_XML_PRE = (
    '<?xml version="1.0" encoding="UTF-8"?> <CaretExtension>  <Date><![CDATA[2013-07-14T05:45:09]]></Date>'
    '   <VolumeInformation Index="0">   <LabelTable>'
)
_XML_POST = (
    "  </LabelTable>  <StudyMetaDataLinkSet>  </StudyMetaDataLinkSet>  <VolumeType><![CDATA[Label]]></VolumeType>"
    "   </VolumeInformation></CaretExtension>"
)
_MARKER = b"<CaretExtension>"


def label_map_xml(label_map: Mapping[int, str] | Sequence[str]) -> bytes:
    """The UTF-8 XML content of the label extension, byte for byte as the official tool writes it.

    Args:
        label_map: ``{label id: name}``, or a sequence of names numbered from 1.

    Returns:
        The extension content (bytes).

    Examples:
        >>> label_map_xml({1: "spleen"}).count(b"<Label ")
        1
        >>> b'Key="1" Red="0.0" Green="1.0" Blue="0.0"' in label_map_xml(["spleen"])
        True
    """
    items = _as_dict(label_map)
    body = ""
    for label_id, name in items.items():
        red, green, blue = _COLORS[label_id % len(_COLORS)]
        body += (
            f'<Label Key="{label_id}" Red="{red / 255}" Green="{green / 255}" Blue="{blue / 255}" Alpha="1">'
            f"<![CDATA[{name}]]></Label>\n"
        )
    xml = _XML_PRE + "\n" + body + "\n" + _XML_POST + "\n              "
    return xml.encode("utf-8")


def label_map_extension(label_map: Mapping[int, str] | Sequence[str]) -> nib.nifti1.Nifti1Extension:
    """A NIfTI-1 header extension (code 0) that carries ``label_map``.

    Examples:
        >>> label_map_extension({1: "spleen"}).get_code()
        0
    """
    return nib.nifti1.Nifti1Extension(LABEL_EXTENSION_CODE, label_map_xml(label_map))


def is_label_map_extension(ext: nib.nifti1.Nifti1Extension) -> bool:
    """Whether ``ext`` is a label table written by this module or by the official tool.

    Examples:
        >>> is_label_map_extension(label_map_extension({1: "liver"}))
        True
    """
    return _MARKER in bytes(ext.get_content())


def add_label_map_to_nifti(img: nib.Nifti1Image, label_map: Mapping[int, str] | Sequence[str]) -> nib.Nifti1Image:
    """A new image sharing ``img``'s data with ``label_map`` as its last header extension.

    Label tables already in the header are dropped, other extensions kept, so the result holds
    exactly one table; with none before, the header bytes equal the official tool's. ``img`` is
    not modified.

    Args:
        img: a NIfTI-1 image, usually a uint8 multilabel segmentation.
        label_map: ``{label id: name}``, or a sequence of names numbered from 1.

    Returns:
        A ``nib.Nifti1Image`` with the same data object, affine and header fields.

    Examples:
        >>> import numpy as np
        >>> img = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
        >>> load_label_map(add_label_map_to_nifti(img, {1: "spleen", 2: "kidney_right"}))
        {1: 'spleen', 2: 'kidney_right'}
    """
    header = img.header.copy()
    kept = [ext for ext in header.extensions if not is_label_map_extension(ext)]
    header.extensions.clear()
    header.extensions.extend(kept)
    header.extensions.append(label_map_extension(label_map))
    return nib.Nifti1Image(img.dataobj, img.affine, header)


def load_label_map(img: nib.Nifti1Image | str | os.PathLike) -> dict[int, str]:
    """Read ``{label id: name}`` from the label extension of an image or a NIfTI file.

    Args:
        img: a nibabel image or the path of a NIfTI file (only its header is read).

    Returns:
        The label map in the order the file lists it.

    Raises:
        InputError: no label extension, or one that is not a valid label table.

    Examples:
        >>> import numpy as np
        >>> img = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
        >>> load_label_map(add_label_map_to_nifti(img, ["liver"]))
        {1: 'liver'}
    """
    name = str(img) if isinstance(img, (str, os.PathLike)) else "image"
    if isinstance(img, (str, os.PathLike)):
        img = _load_header_only(Path(img))
    for ext in img.header.extensions:
        if is_label_map_extension(ext):
            return _parse_label_table(bytes(ext.get_content()), name)
    raise InputError(f"{name}: no label map extension in the NIfTI header; pass a multilabel file written with --ml")


def _as_dict(label_map: Mapping[int, str] | Sequence[str]) -> dict[int, str]:
    if isinstance(label_map, Mapping):
        return {int(k): str(v) for k, v in label_map.items()}
    return {idx + 1: str(name) for idx, name in enumerate(label_map)}


def _load_header_only(path: Path) -> nib.Nifti1Image:
    try:
        return nib.load(path)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: file not found; check the path") from exc
    except Exception as exc:  # nibabel raises many types for a bad header
        raise InputError(f"{path}: not a readable NIfTI file ({exc}); pass a .nii/.nii.gz multilabel file") from exc


def _parse_label_table(content: bytes, name: str) -> dict[int, str]:
    try:
        root = ET.fromstring(content.decode("utf-8").strip())
        labels = root.iter("Label")
        return {int(label.attrib["Key"]): label.text or "" for label in labels}
    except (ET.ParseError, KeyError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: the label map extension is not a valid label table ({exc})") from exc

"""The label-name header extension is byte-identical to the official tool's and reads back."""

from __future__ import annotations

import doctest
import io

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy.class_maps import class_map
from totalseg.errors import InputError
from totalseg.io import nifti_ext
from totalseg.io.nifti_ext import add_label_map_to_nifti, label_map_xml, load_label_map


def official_add_label_map_to_nifti(img_in, label_map):
    """TotalSegmentator 2.18.0 ``nifti_ext_header.add_label_map_to_nifti``, copied as the reference."""
    data = img_in.get_fdata()

    if label_map is None:
        label_map = {idx + 1: f"L{val}" for idx, val in enumerate(np.unique(data)[1:])}

    if type(label_map) is not dict:  # can be list or dict_values list
        label_map = {idx + 1: val for idx, val in enumerate(label_map)}

    colors = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255], [255, 128, 0],
              [255, 0, 128], [128, 255, 128], [0, 128, 255], [128, 128, 128], [185, 170, 155]]  # fmt: skip
    xmlpre = '<?xml version="1.0" encoding="UTF-8"?> <CaretExtension>  <Date><![CDATA[2013-07-14T05:45:09]]></Date>   <VolumeInformation Index="0">   <LabelTable>'  # noqa: E501

    body = ""
    for label_id, label_name in label_map.items():
        rgb = colors[label_id % len(colors)]
        body += f'<Label Key="{label_id}" Red="{rgb[0] / 255}" Green="{rgb[1] / 255}" Blue="{rgb[2] / 255}" Alpha="1"><![CDATA[{label_name}]]></Label>\n'  # noqa: E501

    xmlpost = "  </LabelTable>  <StudyMetaDataLinkSet>  </StudyMetaDataLinkSet>  <VolumeType><![CDATA[Label]]></VolumeType>   </VolumeInformation></CaretExtension>"  # noqa: E501
    xml = xmlpre + "\n" + body + "\n" + xmlpost + "\n              "

    img_in.header.extensions.append(nib.nifti1.Nifti1Extension(0, bytes(xml, "utf-8")))

    return img_in


def _image() -> nib.Nifti1Image:
    data = np.zeros((5, 4, 3), np.uint8)
    data[1:3, 1:3, 1] = 5
    return nib.Nifti1Image(data, np.diag([1.5, 1.5, 3.0, 1.0]))


def _file_bytes(img: nib.Nifti1Image) -> bytes:
    buffer = io.BytesIO()
    img.to_file_map(img.make_file_map({"image": buffer, "header": buffer}))
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["total", "total_mr", "body"])
def test_extension_bytes_equal_the_official_ones(name):
    label_map = class_map(name)
    ours = add_label_map_to_nifti(_image(), label_map)
    official = official_add_label_map_to_nifti(_image(), label_map)
    (ours_ext,), (official_ext,) = ours.header.extensions, official.header.extensions
    assert ours_ext.get_code() == official_ext.get_code() == 0
    assert ours_ext.get_content() == official_ext.get_content()
    assert _file_bytes(ours) == _file_bytes(official)


def test_117_class_map_known_answer():
    xml = label_map_xml(class_map("total"))
    assert len(class_map("total")) == 117
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?> <CaretExtension>')
    assert b'<Label Key="1" Red="0.0" Green="1.0" Blue="0.0" Alpha="1"><![CDATA[spleen]]></Label>\n' in xml
    assert b'<Label Key="11" Red="0.7254901960784313" Green="0.6666666666666666" Blue="0.6078431372549019"' in xml
    assert xml.endswith(b"</VolumeInformation></CaretExtension>\n              ")
    assert xml.count(b"<Label ") == 117


def test_list_of_names_numbers_from_one():
    names = ["liver", "spleen"]
    ours = add_label_map_to_nifti(_image(), names)
    official = official_add_label_map_to_nifti(_image(), names)
    assert ours.header.extensions[0].get_content() == official.header.extensions[0].get_content()
    assert load_label_map(ours) == {1: "liver", 2: "spleen"}


def test_round_trip_through_a_file(tmp_path):
    label_map = class_map("total")
    nib.save(add_label_map_to_nifti(_image(), label_map), tmp_path / "seg.nii.gz")
    assert load_label_map(tmp_path / "seg.nii.gz") == label_map
    assert list(load_label_map(str(tmp_path / "seg.nii.gz"))) == list(label_map)


def test_reads_files_the_official_tool_wrote(tmp_path):
    nib.save(official_add_label_map_to_nifti(_image(), {3: "a&b <c>", 7: "ünïcode"}), tmp_path / "off.nii")
    assert load_label_map(tmp_path / "off.nii") == {3: "a&b <c>", 7: "ünïcode"}


def test_input_is_not_modified_and_old_tables_are_replaced():
    img = _image()
    img.header.extensions.append(nib.nifti1.Nifti1Extension(6, b"a comment"))
    first = add_label_map_to_nifti(img, {1: "old"})
    second = add_label_map_to_nifti(first, {1: "new"})
    assert len(img.header.extensions) == 1
    assert [ext.get_code() for ext in second.header.extensions] == [6, 0]
    assert load_label_map(second) == {1: "new"}
    assert second.dataobj is img.dataobj


def test_missing_extension_is_an_input_error(tmp_path):
    nib.save(_image(), tmp_path / "plain.nii.gz")
    with pytest.raises(InputError, match=r"plain\.nii\.gz: no label map extension in the NIfTI header"):
        load_label_map(tmp_path / "plain.nii.gz")


def test_broken_label_table_is_an_input_error():
    img = _image()
    img.header.extensions.append(nib.nifti1.Nifti1Extension(0, b"<CaretExtension><Label Key='x'>"))
    with pytest.raises(InputError, match="not a valid label table"):
        load_label_map(img)


def test_unreadable_file_is_an_input_error(tmp_path):
    (tmp_path / "x.nii.gz").write_text("text")
    with pytest.raises(InputError, match=r"x\.nii\.gz: not a readable NIfTI file"):
        load_label_map(tmp_path / "x.nii.gz")
    with pytest.raises(InputError, match="file not found"):
        load_label_map(tmp_path / "missing.nii.gz")


def test_docstring_examples():
    assert doctest.testmod(nifti_ext, raise_on_error=False).failed == 0

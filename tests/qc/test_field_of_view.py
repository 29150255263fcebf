import numpy as np

from totalseg.qc import run_qc


def _cropped(clean, organ="liver", keep="low"):
    """The phantom cropped along the world head-feet axis through the organ's centre."""
    from scipy import ndimage

    from totalseg.qc.structures import world_axis_of_voxels

    image, labels, classes = clean
    ids = {v: k for k, v in classes.items()}
    axis = world_axis_of_voxels(labels.affine)[2]
    cut = int(ndimage.center_of_mass(np.asarray(labels.array) == ids[organ])[axis])
    index = tuple(slice(0, cut) if a == axis else slice(None) for a in range(3))
    return run_qc(image.with_data(np.asarray(image.array)[index]), labels.with_data(np.asarray(labels.array)[index]),
                  classes)


def test_whole_anatomy_is_inside(clean_report):
    check = clean_report.check("field_of_view")
    assert check.status == "ok" and check.evidence["cut_off"] == {}
    assert clean_report.not_measurable == []


def test_cropped_organ_is_cut_off_and_not_measured(clean):
    report = _cropped(clean)
    check = report.check("field_of_view")
    assert check.status == "warn" and "liver" in check.evidence["cut_off"]
    assert "liver" in check.evidence["not_measurable"]["statistics_without_sii"]
    assert "liver" in report.not_measurable
    # the volume check does not judge a cut organ
    assert "liver" not in report.check("volumes").evidence["volumes_ml"]
    assert "liver" in report.check("volumes").evidence["not_measurable"]

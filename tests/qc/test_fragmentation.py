import numpy as np

from totalseg.qc import run_qc
from totalseg.qc.faults import add_fragments


def _with_blob(clean, name, corners=(5,)):
    image, labels, classes = clean
    ids = {v: k for k, v in classes.items()}
    array = np.asarray(labels.array).copy()
    for c in corners:  # 27 voxels of 0.125 ml each, far from the organ and each other
        array[c:c + 3, 5:8, 5:8] = ids[name]
    return run_qc(image, labels.with_data(array), classes).check("fragmentation")


def test_clean_structures_are_whole(clean_report):
    assert clean_report.check("fragmentation").status == "ok"


def test_added_fragments_warn(faulted):
    check = faulted(add_fragments).check("fragmentation")
    assert check.status == "warn"
    (name, info), = check.evidence["fragmented"].items()
    assert info["far_blobs"] >= 1 and info["components"] >= 2


def test_a_far_blob_of_the_spleen_warns(clean):
    check = _with_blob(clean, "spleen")
    assert check.status == "warn" and check.evidence["fragmented"]["spleen"]["far_blobs"] == 1


def test_naturally_fragmented_structures_are_not_flagged(clean):
    check = _with_blob(clean, "colon", corners=(5, 30))
    assert check.status == "ok"
    assert check.evidence["components"]["colon"] == 2


def test_pieces_of_a_cut_structure_at_the_border_are_not_stray():
    from totalseg.imaging.volume import LabelVolume, Volume

    lab = np.zeros((40, 20, 20), np.uint8)
    lab[5:15, 5:15, 0:8] = 1  # two pieces of a lung base, both reaching the top slice
    lab[25:35, 5:15, 0:8] = 1
    aff = np.diag([3.0, 3, 3, 1])
    check = run_qc(Volume(np.full(lab.shape, -800.0), affine=aff), LabelVolume(lab, affine=aff),
                   {1: "lung_lower_lobe_left"}).check("fragmentation")
    assert check.status == "ok" and check.evidence["components"] == {"lung_lower_lobe_left": 2}
    lab[25:35, 5:15, 0:4] = 0  # the second piece now floats inside the image
    check = run_qc(Volume(np.full(lab.shape, -800.0), affine=aff), LabelVolume(lab, affine=aff),
                   {1: "lung_lower_lobe_left"}).check("fragmentation")
    assert check.status == "warn"

"""A field read cell by cell with a real TFLite interpreter and a format-3 bundle: the boxes, batched
and one-crop-at-a-time answers equal, each role's status, the field's status, scale unknown, no cell."""

from __future__ import annotations

import numpy as np
import pytest

from edge_all.cells.scale import ScaleEstimate, scale_of
from edge_all.runtime.classifier import Classifier, Prediction
from edge_all.triage.cells import NO_WHITE_CELL, CellReader, CellStatus, cell_status, crop_at
from edge_all.triage.decision import assess_field
from edge_all.triage.status import Status
from tests.cells.conftest import ROLES, cells_bundle
from tests.cells.fields import GLASS, NUCLEUS, synthetic_field

UM_PER_PX = 0.25


def judge(rgb, model, threshold=0.5, given=None, quality=None):
    """As classify judges a file: the scale given, else estimated, then the field."""
    return assess_field(rgb, model, quality, threshold, scale=scale_of(rgb, given, True), reads_cells=True)


@pytest.fixture(scope="module")
def field():
    return synthetic_field(3, um_per_px=UM_PER_PX, white_cells=4, lobed=False, size_um=(80.0, 110.0))


@pytest.fixture(scope="module")
def classifier(cell_bundle):
    return Classifier.load(cell_bundle, threads=1)


def test_each_white_cell_gets_a_box_in_the_pixels_as_given(classifier, field):
    result = judge(field.rgb, classifier, given=ScaleEstimate.given(UM_PER_PX))
    assert len(result.cells) == len(field.white_cells)
    for x, y, _ in field.white_cells:
        (cell,) = [c for c in result.cells if c.box[0] <= x <= c.box[2] and c.box[1] <= y <= c.box[3]]
        assert cell.label == "blue" and cell.status is CellStatus.ALL_LIKE
    assert all(0 <= c.box[0] < c.box[2] <= field.rgb.shape[1] for c in result.cells)
    assert result.status is Status.CLASSIFIED and result.prediction.label == "blue"
    assert result.scale.source == "given" and result.pixels is None


def test_the_scale_is_estimated_when_not_given(classifier, field):
    result = judge(field.rgb, classifier)
    assert result.scale.source == "estimated"
    assert result.scale.um_per_px == pytest.approx(UM_PER_PX, rel=0.1)
    assert len(result.cells) == len(field.white_cells)


@pytest.mark.parametrize("bundle", ["cell_bundle", "cell_bundle_int8"])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_a_batched_call_gives_what_one_call_per_crop_gives(request, bundle, k):
    model = Classifier.load(request.getfixturevalue(bundle), threads=1)
    reader = CellReader(model)
    cells = synthetic_field(11, um_per_px=0.55, white_cells=k, lobed=False, size_um=(90.0, 120.0))
    from edge_all.cells.finder import find_white_cells

    found = find_white_cells(cells.rgb, 0.55)
    assert len(found) == k
    crops = reader.crops(cells.rgb, found)
    batched = model.predict_batch(crops)
    single = [model.predict_pixels(crop) for crop in crops]
    for a, b in zip(batched, single, strict=True):
        assert a.label == b.label
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
    again = model.predict_pixels(crops[0])  # back to one crop after a batch
    np.testing.assert_allclose(again.probabilities, single[0].probabilities, atol=1e-6)


def test_the_reader_batched_or_not_judges_alike(classifier, field):
    reader = CellReader(classifier)
    given = ScaleEstimate.given(UM_PER_PX)
    batched, single = (
        reader.read(field.rgb, None, 0.5, given),
        reader.read(field.rgb, None, 0.5, given, batched=False),
    )
    assert [(c.box, c.label, c.status) for c in batched.cells] == [
        (c.box, c.label, c.status) for c in single.cells
    ]


@pytest.mark.parametrize(
    ("blue_role", "cell", "field_status"),
    [
        ("all_like", CellStatus.ALL_LIKE, Status.CLASSIFIED),
        ("not_all_like", CellStatus.CLEARED, Status.CLASSIFIED),
        ("refer", CellStatus.REFERRED, Status.REFERRED),
        ("not_a_white_cell", CellStatus.DROPPED, Status.REJECTED),
    ],
)
def test_the_label_roles_decide_each_cell_and_the_field(
    tmp_path, colour_models, field, blue_role, cell, field_status
):
    bundle = cells_bundle(colour_models["float32"], tmp_path / "bundle", {**ROLES, "blue": blue_role})
    result = judge(field.rgb, Classifier.load(bundle, threads=1), given=ScaleEstimate.given(UM_PER_PX))
    assert {c.status for c in result.cells} == {cell}
    assert result.status is field_status
    if field_status is Status.REJECTED:  # only platelets and debris: no white cell
        assert result.reason == NO_WHITE_CELL


def test_a_field_without_white_cells_is_rejected_saying_so(classifier):
    empty = synthetic_field(4, um_per_px=UM_PER_PX, white_cells=0, platelet_clumps=4, size_um=(60.0, 80.0))
    result = judge(empty.rgb, classifier, given=ScaleEstimate.given(UM_PER_PX))
    assert result.status is Status.REJECTED and result.reason.startswith(
        "no_white_cell: no white cell in this field"
    )
    assert result.cells == () and result.prediction is None


def test_an_image_whose_scale_cannot_be_measured_is_referred_saying_how_to_give_it(classifier):
    glass = np.broadcast_to(GLASS.astype(np.uint8), (200, 200, 3)).copy()
    glass[90:110, 90:110] = NUCLEUS.astype(np.uint8)  # one cell-like blot, no red cells
    result = judge(glass, classifier)
    assert result.status is Status.REFERRED
    assert result.reason.startswith("scale_unknown:") and "--um-per-px" in result.reason
    assert result.scale is not None and not result.scale.known


def _prediction(label: str, confidence: float, unfamiliarity: float | None = None) -> Prediction:
    return Prediction(label, 0, confidence, np.array([confidence], np.float32), 1.0, unfamiliarity)


def test_low_confidence_or_unfamiliar_cells_are_referred_whatever_their_role():
    assert cell_status(_prediction("Benign", 0.3), "not_all_like", 0.6)[0] is CellStatus.REFERRED
    assert cell_status(_prediction("Benign", 0.99, 1.3), "not_all_like", 0.6)[0] is CellStatus.REFERRED
    assert cell_status(_prediction("platelet", 0.3), "not_a_white_cell", 0.6)[0] is CellStatus.REFERRED
    assert cell_status(_prediction("Pre", 0.9), "all_like", 0.6) == (CellStatus.ALL_LIKE, None)
    status, reason = cell_status(_prediction("other_refer", 0.9), "refer", 0.6)
    assert status is CellStatus.REFERRED and "always refers" in reason


def test_a_crop_at_the_edge_is_reflect_padded():
    image = np.arange(10 * 10 * 3, dtype=np.uint8).reshape(10, 10, 3)
    crop = crop_at(image, 0, 0, 8)
    assert crop.shape == (8, 8, 3)
    np.testing.assert_array_equal(crop[4:, 4:], image[:4, :4])  # the image's corner at the crop's centre
    np.testing.assert_array_equal(crop[3, 4:], image[1, :4])  # mirrored about the edge row
    assert crop_at(image, 5, 5, 32).shape == (32, 32, 3)  # wider than the image itself


def test_a_whole_field_bundle_reads_as_before(square_bundle_path):
    model = Classifier.load(square_bundle_path, threads=1)
    result = assess_field(np.full((64, 64, 3), (200, 30, 30), np.uint8), model, None, 0.5)
    assert result.cells == () and result.scale is None and result.prediction.label == "red"


def test_a_reinhard_bundle_normalises_the_field_before_the_crops(tmp_path, colour_models, field):
    pytest.importorskip("torchstain")
    from torchstain.numpy.utils.rgb2lab import rgb2lab
    from torchstain.numpy.utils.split import lab_split

    from edge_all.cells.stain import StainNormaliser
    from edge_all.runtime.bundle import Stain

    target = Stain("reinhard", "torchstain", (80.0, 5.0, -8.0), (12.0, 6.0, 8.0))  # CIE L*a*b*
    normalised = StainNormaliser(target)(field.rgb)
    lab = lab_split(rgb2lab(normalised.astype(np.float32) / 255))
    np.testing.assert_allclose([channel.mean() for channel in lab], target.target_means, atol=3.0)
    stain = {"method": "reinhard", "library": "torchstain", "target_means": list(target.target_means),
             "target_stds": list(target.target_stds)}  # fmt: skip
    bundle = cells_bundle(colour_models["float32"], tmp_path / "bundle", stain=stain)
    result = judge(field.rgb, Classifier.load(bundle, threads=1), given=ScaleEstimate.given(UM_PER_PX))
    assert len(result.cells) == len(field.white_cells)  # found on the field as given, cropped normalised


def test_a_batch_of_the_wrong_shape_is_refused(classifier):
    with pytest.raises(ValueError, match="uint8 pixels"):
        classifier.predict_batch(np.zeros((2, 8, 8, 3), np.uint8))
    assert classifier.predict_batch(np.zeros((0, 32, 32, 3), np.uint8)) == []

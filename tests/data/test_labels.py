"""match_class_names: folder classes become the model's indices by name, never by sorted order."""

import pytest

from keras_advinterp import data
from keras_advinterp.data import imagenet_class_names

SHAPES = ["circle", "square", "triangle", "star", "cross", "ring"]


@pytest.mark.parametrize("folder, model, index", [
    ("star", SHAPES, 3),  # exact
    ("Star", SHAPES, 3),  # case
    ("big square", ["circle", "big_square"], 1),  # space vs underscore
    ("Big-Square", ["circle", "big_square"], 1),  # hyphen and case
    ("golden retriever", None, 207),  # ImageNet names use underscores
    ("German-Shepherd", None, 235),
    ("n01440764", None, 0),  # ImageNet synset id (tench)
    ("n02123045", None, 281),  # tabby
    ("n02012849", None, 134),  # crane (the bird): a synset resolves the duplicate name
])
def test_names_are_matched_exactly_then_loosely_then_by_synset(folder, model, index):
    names = imagenet_class_names() if model is None else model
    assert data.match_class_names([folder], names) == {folder: index}


def test_folder_order_is_never_used():
    # sorted folder names would give circle=0, ring=1, square=2: the model's order wins
    assert data.match_class_names(["circle", "ring", "square"], SHAPES) == {"circle": 0, "ring": 5, "square": 1}


def test_unmatched_names_error_lists_them_with_model_names_and_the_way_out():
    with pytest.raises(ValueError) as info:
        data.match_class_names(["circle", "squares", "kitten"], SHAPES)
    text = str(info.value)
    assert "2 folder class name(s) match none of the model's 6 classes" in text
    listed = text.split("classes: ", 1)[1].split(". The model's classes are", 1)[0]
    assert listed == "'squares' (closest: 'square'); 'kitten'"  # the matched 'circle' is not listed
    assert "'triangle'" in text  # some of the model's names
    assert "`--labels predicted`" in text and "unmatched='predict'" in text
    assert text.endswith("Received: folder_names=['circle', 'squares', 'kitten']")


def test_synset_ids_only_count_for_imagenet_models():
    with pytest.raises(ValueError, match="'n01440764'"):
        data.match_class_names(["n01440764"], SHAPES)


def test_ambiguous_names_are_not_guessed():
    with pytest.raises(ValueError, match=r"'crane' is ambiguous \(model classes 134, 517; use its synset id\)"):
        data.match_class_names(["crane"], imagenet_class_names())
    with pytest.raises(ValueError, match="'a b' is ambiguous"):
        data.match_class_names(["a b"], ["a_b", "A-B"])


def test_unmatched_predict_maps_to_minus_one():
    assert data.match_class_names(["star", "kitten", "crane"], SHAPES, unmatched="predict") == {
        "star": 3, "kitten": -1, "crane": -1}


@pytest.mark.parametrize("kwargs, match", [
    ({"unmatched": "ignore"}, "Received: unmatched='ignore'"),
    ({"model_names": []}, "no class names"),
])
def test_bad_arguments(kwargs, match):
    args = {"folder_names": ["star"], "model_names": SHAPES, **kwargs}
    with pytest.raises(ValueError, match=match):
        data.match_class_names(**args)

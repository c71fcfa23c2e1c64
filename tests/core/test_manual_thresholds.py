"""A threshold set by hand: it wins over a trained one, outlives new versions, and undoes."""

from __future__ import annotations

from tests.core.test_tagstore import ids, score, store, tag_names  # noqa: F401 - the fixture


def test_a_manual_threshold_wins_over_the_trained_one_and_survives_a_new_version(store):
    photo = store.add_photo("a.jpg", 1, 1)
    score(store, photo, dog=0.45)
    store.add_model(1, "fake@1", None, {"dog": 0.6}, {}, activate=True)
    store.refresh_all_tags()
    assert "dog" not in tag_names(store, photo)
    store.set_manual_threshold("Dog", 0.42)
    assert store.manual_thresholds() == {"dog": 0.42}
    assert store.policy().threshold(ids(store)["dog"]) == 0.42
    assert "dog" in tag_names(store, photo)  # tags follow at once
    store.add_model(2, "fake@1", None, {"dog": 0.7}, {}, activate=True)  # a retrain
    store.refresh_all_tags()
    assert store.policy().threshold(ids(store)["dog"]) == 0.42 and "dog" in tag_names(store, photo)
    store.set_manual_threshold("dog", None)  # reset: the trained one is back
    assert store.policy().threshold(ids(store)["dog"]) == 0.7
    assert "dog" not in tag_names(store, photo)


def test_threshold_changes_undo_and_redo_in_order(store):
    photo = store.add_photo("a.jpg", 1, 1)
    score(store, photo, dog=0.45)
    store.set_manual_threshold("dog", 0.3)
    store.set_manual_threshold("dog", 0.5)
    assert store.undo_threshold() == "dog"
    assert store.manual_thresholds() == {"dog": 0.3} and "dog" in tag_names(store, photo)
    assert store.undo_threshold() == "dog"
    assert store.manual_thresholds() == {} and store.undo_threshold() is None
    assert store.redo_threshold() == "dog" and store.manual_thresholds() == {"dog": 0.3}
    assert store.redo_threshold() == "dog" and store.manual_thresholds() == {"dog": 0.5}
    assert "dog" not in tag_names(store, photo) and store.redo_threshold() is None
    store.set_manual_threshold("dog", 0.5)  # no change, no step
    assert store.undo_threshold() == "dog" and store.manual_thresholds() == {"dog": 0.3}

"""Cache keys cover what defines a model (data, settings, code, library versions, Keras backend),
and an entry that cannot be read is a miss that says so, never a crash."""

from pathlib import Path

import numpy as np

from helpers.mnist import classifier as digit_classifier
from helpers.vae import training as vae_training


def _digits(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def test_the_classifier_key_covers_its_code_and_the_libraries(tmp_path, monkeypatch):
    x, y = _digits()
    key = digit_classifier.classifier_key(x, y, 5, 0)
    assert digit_classifier.classifier_key(x, y, 5, 0) == key
    assert digit_classifier.classifier_key(x, y, 6, 0) != key
    edited = tmp_path / "digit_classifier.py"
    edited.write_text(Path(digit_classifier.__file__).read_text() + "\n# a changed model\n")
    with monkeypatch.context() as patch:
        patch.setattr(digit_classifier, "__file__", str(edited))
        assert digit_classifier.classifier_key(x, y, 5, 0) != key
    versions = vae_training.library_versions()
    assert versions["backend"] in ("tensorflow", "jax", "torch") and "keras" in versions
    with monkeypatch.context() as patch:
        patch.setattr(vae_training, "library_versions", lambda: {**versions, "backend": "another backend"})
        assert digit_classifier.classifier_key(x, y, 5, 0) != key


def test_a_broken_classifier_entry_is_retrained_with_one_line_saying_so(tmp_path, capsys):
    x, y = _digits()
    folder = tmp_path / f"classifier-{digit_classifier.classifier_key(x, y, 1, 0)}"
    folder.mkdir()
    (folder / "classifier.keras").write_bytes(b"not a keras file")
    (folder / "complete").write_text("complete\n")
    model = digit_classifier.train_classifier(x, y, epochs=1, cache_dir=tmp_path)
    assert model.predict(x[:3], verbose=0).shape == (3, 10)
    assert capsys.readouterr().err.count("could not be read") == 1
    again = digit_classifier.train_classifier(x, y, epochs=1, cache_dir=tmp_path)  # the new entry is whole
    np.testing.assert_array_equal(again.predict(x[:3], verbose=0), model.predict(x[:3], verbose=0))

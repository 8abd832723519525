import numpy as np
import torch

from edgebuild.models import digits


def test_split_is_fixed_and_large_enough():
    x_train, y_train, x_test, y_test = digits.dataset()
    assert len(x_test) >= 500 and len(x_train) + len(x_test) == 1797
    assert x_test.shape[1:] == (1, 8, 8) and x_test.dtype == np.float32 and 0 <= x_test.min() <= x_test.max() <= 1
    assert np.array_equal(digits.dataset()[3], y_test)


def test_trained_model_is_cached_deterministic_and_accurate(project):
    model = digits.DigitsCNN(project.cache_dir)
    path = model.ensure_weights()
    assert model.fingerprint() == model.fingerprint()
    retrained = digits.train()
    with np.load(path) as cached:
        assert all(np.array_equal(cached[k], v) for k, v in retrained.items())
    net = model.load()
    _, _, x_test, y_test = digits.dataset()
    with torch.no_grad():
        accuracy = (net(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    assert accuracy >= 0.97


def test_metrics_use_the_given_predictor_in_batches(project):
    calls = []

    def predict(inputs):
        calls.append(inputs["image"].shape)
        return [np.tile(np.eye(10, dtype=np.float32)[3], (len(inputs["image"]), 1))]  # always "3"

    specs = [digits.TensorSpec("image", (64, 1, 8, 8), "float32")]
    metrics = digits.DigitsCNN(project.cache_dir).metrics(predict, specs)
    _, _, _, y_test = digits.dataset()
    assert metrics["accuracy"] == round((y_test == 3).mean() * 100, 2)
    assert set(calls) == {(64, 1, 8, 8)} and len(calls) == 8  # 500 images, last batch padded

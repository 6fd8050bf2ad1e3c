"""Augmentation on whole batches, replayable from (seed, epoch, step), never on validation; and the image data
path: on the device as uint8 or streamed from host memory, with identical batches either way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.training.conftest import StopAfter, make_config
from workers.training import augment as augment_module
from workers.training.augment import Augmenter, augment_batch, batch_generator
from workers.training.batches import Images, TrainBatches, channel_stats, device_limit_bytes
from workers.training.config import Augment
from workers.training.engine import train
from workers.training.reporter import NullReporter


def batch(n=16, c=3, size=8) -> torch.Tensor:
    return torch.randn(n, c, size, size, generator=torch.Generator().manual_seed(0))


def test_the_same_seed_epoch_and_step_give_the_same_crops_and_flips():
    x, cfg = batch(), Augment(crop_padding=2, flip=True)
    a = augment_batch(x, cfg, batch_generator(7, 3, 5, x.device))
    assert torch.equal(a, augment_batch(x, cfg, batch_generator(7, 3, 5, x.device)))
    assert not torch.equal(a, augment_batch(x, cfg, batch_generator(7, 3, 6, x.device)))
    assert not torch.equal(a, augment_batch(x, cfg, batch_generator(7, 4, 5, x.device)))


def test_each_crop_is_a_window_of_the_zero_padded_image():
    x, p = batch(), 2
    out = augment_batch(x, Augment(crop_padding=p), batch_generator(0, 1, 0, x.device))
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    shifts = set()
    for i in range(len(x)):  # the test may loop; the engine never does
        windows = [
            (dy, dx)
            for dy in range(2 * p + 1)
            for dx in range(2 * p + 1)
            if torch.equal(out[i], padded[i, :, dy : dy + 8, dx : dx + 8])
        ]
        assert windows, f"image {i} is not a crop"
        shifts.add(windows[0])
    assert len(shifts) > 3  # offsets vary across the batch


def test_a_flip_mirrors_some_images_and_leaves_the_others():
    x = batch(n=64)
    out = augment_batch(x, Augment(flip=True), batch_generator(0, 1, 0, x.device))
    flipped = [torch.equal(o, i.flip(2)) for o, i in zip(out, x)]
    kept = [torch.equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 54


def test_augmentation_touches_training_batches_only(store, monkeypatch):
    calls = []
    real = augment_module.augment_batch
    monkeypatch.setattr(augment_module, "augment_batch", lambda x, cfg, g: calls.append(len(x)) or real(x, cfg, g))
    config = make_config(
        dataset={"name": "cifar10", "augment": {"crop_padding": 4, "flip": True}},
        model={"arch": "cnn", "hidden": [8]},
        epochs=2,
        batch_size=50,
    )
    result = train(config, NullReporter())
    assert len(calls) == result.steps == 2 * 4  # 200 training images, 100 validation images never augmented
    assert set(calls) == {50}


def test_a_resumed_augmented_run_replays_the_uninterrupted_one(store, tmp_path):
    config = make_config(
        dataset={"name": "cifar10", "augment": {"crop_padding": 4, "flip": True}},
        model={"arch": "resnet", "hidden": [8, 8], "dropout": 0.0},
        epochs=3,
        batch_size=40,
    )
    whole = NullReporter()
    train(config, whole)
    interrupted = StopAfter(batches=5 + 2)  # two batches into epoch 2
    assert train(config, interrupted, checkpoint_dir=tmp_path).status == "stopped"
    interrupted.batches = 10**9
    train(config, interrupted, checkpoint_dir=tmp_path)
    assert interrupted.series("val_loss")[-2:] == whole.series("val_loss")[-2:]
    assert interrupted.series("train_loss")[-2:] == whole.series("train_loss")[-2:]


def test_channel_statistics_are_exact_without_a_float_copy():
    x = np.random.default_rng(0).integers(0, 256, (50, 3, 5, 5)).astype(np.uint8)
    mean, std = channel_stats(x)
    assert np.allclose(mean, x.transpose(1, 0, 2, 3).reshape(3, -1).mean(1))
    assert np.allclose(std, x.transpose(1, 0, 2, 3).reshape(3, -1).std(1))


def images(n=103) -> Images:
    x = np.random.default_rng(1).integers(0, 256, (n, 3, 8, 8)).astype(np.uint8)
    return Images(torch.from_numpy(x), *channel_stats(x))


def test_images_stay_uint8_under_the_limit_and_stream_above_it(monkeypatch):
    monkeypatch.setenv("LOSSLAB_DEVICE_DATA_LIMIT_MB", "1")
    held = images().to("cpu")
    assert not held.stream and held.u8.dtype == torch.uint8
    monkeypatch.setenv("LOSSLAB_DEVICE_DATA_LIMIT_MB", "0.01")  # 10 KB < 103 × 192 bytes
    assert images().to("cpu").stream


@pytest.mark.parametrize("value", ["lots", "-1"])
def test_a_bad_device_limit_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("LOSSLAB_DEVICE_DATA_LIMIT_MB", value)
    with pytest.raises(ValueError, match="LOSSLAB_DEVICE_DATA_LIMIT_MB"):
        device_limit_bytes(torch.device("cpu"))


def test_streamed_and_held_batches_are_identical(monkeypatch):
    monkeypatch.delenv("LOSSLAB_DEVICE_DATA_LIMIT_MB", raising=False)
    held = images().to("cpu")
    monkeypatch.setenv("LOSSLAB_DEVICE_DATA_LIMIT_MB", "0")
    streamed = images().to("cpu")
    aug = Augmenter(Augment(crop_padding=2, flip=True), seed=3)
    a, b = TrainBatches(held, aug), TrainBatches(streamed, aug)
    assert b.streaming and not a.streaming
    for epoch in (1, 2):
        perm = torch.randperm(103, generator=torch.Generator().manual_seed(epoch))
        for step in range(6):  # 16-row batches; the last one is partial
            assert torch.equal(a(perm, step, 16, epoch), b(perm, step, 16, epoch))
    assert torch.equal(held[5:40], streamed[5:40])


def test_a_run_streaming_from_the_host_matches_one_holding_the_data(store, monkeypatch):
    config = make_config(
        dataset={"name": "mnist"}, model={"arch": "cnn", "hidden": [8], "dropout": 0.0}, epochs=2, batch_size=32
    )
    held = train(config, NullReporter())
    monkeypatch.setenv("LOSSLAB_DEVICE_DATA_LIMIT_MB", "0")
    streamed = train(config, NullReporter())
    timeless = [{k: v for k, v in r.final.items() if k != "epoch_time"} for r in (held, streamed)]
    assert timeless[0] == timeless[1] and timeless[0]["val_accuracy"] > 0.3

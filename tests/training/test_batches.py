"""ImageBatches for many devices and hosts: even splits, the same augmentation, a fingerprint per epoch."""

from __future__ import annotations

import numpy as np
import pytest

from training.augment import POLICIES, Augmenter
from training.loading import ImageBatches


def smears(n: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("count", "size", "replicas", "shard", "expected"),
    [
        (10, 4, 1, (0, 1), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),  # one device: nothing changes
        (10, 4, 2, (0, 1), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),  # the short batch splits evenly
        (9, 4, 2, (0, 1), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 0]]),  # topped up with the first image
        (9, 4, 2, (1, 2), [[2, 3], [6, 7], [0]]),  # host 1 of 2 feeds the second half of each batch
    ],
)
def test_batches_split_evenly_over_devices_and_hosts(count, size, replicas, shard, expected):
    from training.loading import ImageBatches

    batches = ImageBatches(
        np.zeros((count, 2, 2, 3), np.uint8), None, 4, size, replicas=replicas, shard=shard
    )
    assert [batches.take(i).tolist() for i in range(len(batches))] == expected


def test_hosts_that_augment_their_slices_feed_what_one_host_feeds():
    pixels, labels = smears(12), np.arange(12) % 4

    def batches(shard):
        augmenter = Augmenter(POLICIES["clinic-v1"], (0, 1))
        data = ImageBatches(pixels, labels, 4, 8, True, augmenter, (0, 1), replicas=2, shard=shard)
        data.epoch = 3
        return data

    one, first, second = batches((0, 1)), batches((0, 2)), batches((1, 2))
    for index in range(len(one)):  # 8 images, then 4
        x, y = one[index]
        assert np.array_equal(np.concatenate([first[index][0], second[index][0]]), x)
        assert np.array_equal(np.concatenate([first[index][1], second[index][1]]), y)


def test_an_epochs_fingerprint_names_its_batches_whatever_order_keras_asks_for_them():
    pixels, labels = smears(10), np.arange(10) % 4

    def fingerprint(epoch, indices, shard=(0, 1)):
        data = ImageBatches(pixels, labels, 4, 4, True, seed=(5, 0), replicas=2, shard=shard)
        data.epoch = epoch
        for index in indices:
            data[index]
        data.on_epoch_end()
        assert data.epoch == epoch + 1
        return data.fingerprint

    assert fingerprint(2, [0, 1, 2]) == fingerprint(2, [2, 0, 1]) == fingerprint(2, [0, 1, 2], shard=(1, 2))
    assert fingerprint(2, [0, 1, 2]) != fingerprint(3, [0, 1, 2])  # another epoch, another order
    assert fingerprint(2, [0, 1, 2]) != fingerprint(2, [0, 1])  # a batch missing

"""Data-parallel training over every visible accelerator, through Keras 3's own distribution API.

`--distribute` builds the model under `keras.distribution.DataParallel` over
`keras.distribution.list_devices()`: the variables are replicated on every device, every batch is
split across them, and the gradients are averaged, so a step on N devices is the step one device
would take on the whole batch (`--batch-size` is the global batch). Keras implements this
distribution API for the JAX backend (its TensorFlow version is a prototype Keras marks "do not
use"); the TensorFlow route, tf.distribute.MirroredStrategy, would need TensorFlow imported here,
and training/ stays Keras-only, so --distribute asks for KERAS_BACKEND=jax.

Several hosts join through Keras's own mechanism, its environment variables
KERAS_DISTRIBUTION_JOB_ADDRESSES (the coordinator's host:port first), KERAS_DISTRIBUTION_NUM_PROCESSES
and KERAS_DISTRIBUTION_PROCESS_ID (JAX's distributed runtime); each process then feeds its slice of
every global batch (ImageBatches.shard). docs/training.md has a worked example.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import keras

from training.config import ConfigError, TrainConfig
from training.prepare import log

MULTI_HOST_ENV = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)
_initialized = False  # JAX's distributed runtime starts once per process


@dataclass(frozen=True)
class Replicas:
    """Where one training step runs: every device of every process (one CPU or GPU when not distributed)."""

    devices: tuple[str, ...] = ()  # () : not distributed, Keras's default device
    process: int = 0
    processes: int = 1

    @property
    def count(self) -> int:
        """How many devices split each batch (the multiple every batch is topped up to)."""
        return max(1, len(self.devices))

    @property
    def shard(self) -> tuple[int, int]:
        return self.process, self.processes

    def describe(self) -> dict:
        """What config.json records under "distribution"."""
        return {"devices": list(self.devices), "processes": self.processes}


def check_backend() -> None:
    backend = keras.config.backend()
    if backend != "jax":
        raise ConfigError(
            f"--distribute needs the JAX backend (this is {backend}): run KERAS_BACKEND=jax edge-all train "
            "... (Keras 3 implements data parallelism for JAX; docs/training.md says why not TensorFlow)"
        )


def _start_multi_host() -> None:
    """Join the other hosts when Keras's multi-host variables are set (all three, or none)."""
    global _initialized
    given = [name for name in MULTI_HOST_ENV if os.environ.get(name)]
    if not given or _initialized:
        return
    if len(given) != len(MULTI_HOST_ENV):
        missing = ", ".join(name for name in MULTI_HOST_ENV if name not in given)
        raise ConfigError(f"several hosts need all of {', '.join(MULTI_HOST_ENV)}; missing {missing}")
    keras.distribution.initialize()
    _initialized = True


def replicas_for(config: TrainConfig) -> Replicas:
    """Start what `config.distribute` asks for (call before any model is built) and say where it runs."""
    if not config.distribute:
        return Replicas()
    check_backend()
    _start_multi_host()
    import jax  # the JAX backend is checked above

    devices = tuple(keras.distribution.list_devices())
    replicas = Replicas(devices, jax.process_index(), jax.process_count())
    if config.batch_size % replicas.count:
        raise ConfigError(
            f"--batch-size {config.batch_size} does not split evenly over {replicas.count} devices: "
            f"use a multiple of {replicas.count} (it is the global batch)"
        )
    if len(devices) == 1:
        log(f"warning: --distribute: only one device is visible ({devices[0]}); training on it")
    return replicas


@contextmanager
def distributed(replicas: Replicas) -> Iterator[None]:
    """Models built inside are data-parallel over `replicas`; afterwards Keras is back on one device."""
    if not replicas.devices:
        yield
        return
    previous = keras.distribution.distribution()
    # each process shards its own batches (ImageBatches.shard): Keras's auto-sharding is for tf.data only
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=list(replicas.devices), auto_shard_dataset=False)
    )
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)

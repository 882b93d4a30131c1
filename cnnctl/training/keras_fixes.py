"""What Keras 3.15 gets wrong under `tf.distribute.MultiWorkerMirroredStrategy`, mended before a cluster trains.

Keras 3 has no test with more than one worker, and `fit` fails in two places, each only where a
collective crosses workers (`_collective_all_reduce_multi_worker(strategy)`); one worker, and
MirroredStrategy, go through Keras' code unchanged. Each fix names its upstream issue, and goes when a
Keras release carries it. tests/training/test_distribute.py trains two real workers with and without
these fixes: without, `fit` fails with the upstream errors.
"""

from __future__ import annotations

import functools
from typing import Any


def mend_multi_worker() -> None:
    """Install both fixes (once per process)."""
    mend("symbolic_build")
    mend("scalar_means")


@functools.lru_cache(maxsize=None)
def mend(fix: str) -> None:
    """Install one fix, by name (once per process); the test shows what each one mends."""
    from keras.src.backend.tensorflow import trainer

    {"scalar_means": _scalar_means, "symbolic_build": _symbolic_build}[fix](trainer)


def _scalar_means(trainer: Any) -> None:
    """Average per-replica scalars across workers over the replicas, not over an axis they do not have.

    `reduce_per_replica` turns the per-replica loss and metric results of each step into one value; across
    workers it calls `strategy.reduce("MEAN", v, axis=0)`, and the results are scalars, so every step
    fails with "Invalid reduction dimension 0 for input with 0 dimensions" (tensorflow/tensorflow#72388,
    keras-team/keras#20585, open). `axis=None` averages over the replicas, as MirroredStrategy's path does
    (`tf.reduce_mean` of the local results); values with a batch axis keep `axis=0`.
    """
    original = trainer.reduce_per_replica

    @functools.wraps(original)
    def reduce_per_replica(values: Any, strategy: Any, reduction: str = "auto") -> Any:
        if reduction not in ("auto", "mean") or not trainer._collective_all_reduce_multi_worker(strategy):
            return original(values, strategy, reduction)

        def mean(v: Any) -> Any:
            return strategy.reduce("MEAN", v, axis=None if v.shape.rank == 0 else 0)

        return trainer.tree.map_structure(mean, values)

    trainer.reduce_per_replica = reduce_per_replica


def _symbolic_build(trainer: Any) -> None:
    """Build the model's metrics from one replica's batch, without a cross-worker collective.

    Before training, `_maybe_symbolic_build` reduces a whole first batch (`strategy.reduce("MEAN", batch,
    axis=None)`) only to learn its shapes; across workers that reduce takes one tensor, not the (x, y)
    structure, and `fit` fails with "Attempt to convert a value (PerReplica...) ... to a Tensor"
    (keras-team/keras#20585). The first replica's part of the batch has the shapes the build needs.
    """
    original = trainer.TensorFlowTrainer._maybe_symbolic_build

    @functools.wraps(original)
    def _maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        strategy = self.distribute_strategy
        if iterator is not None and trainer._collective_all_reduce_multi_worker(strategy):
            for _, _, batches in iterator:
                data_batch = trainer.tree.map_structure(lambda v: strategy.experimental_local_results(v)[0],
                                                        next(batches))
                break
            iterator = None
        return original(self, iterator=iterator, data_batch=data_batch)

    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build


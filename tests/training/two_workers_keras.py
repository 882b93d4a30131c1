"""One worker of a two-worker MultiWorkerMirroredStrategy job, Keras alone: what each of cnnctl's fixes mends.

    python two_workers_keras.py PORT0,PORT1 TASK_INDEX

A tiny model is fitted three times: with Keras as released, with the symbolic-build fix, and with both
fixes of cnnctl/training/keras_fixes.py. Each attempt prints one line, `as-released: <error>`,
`symbolic_build: <error>`, `both: ok <losses>`, which test_distribute.py reads. Both workers fail at
the same place, before a collective runs, so a failed attempt leaves the cluster usable for the next.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    ports, index = sys.argv[1].split(","), int(sys.argv[2])
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                          "task": {"type": "worker", "index": index}})
    import keras
    import numpy as np
    import tensorflow as tf

    from cnnctl.training.keras_fixes import mend

    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=60)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    rng = np.random.default_rng(0)
    x = rng.random((64, 4), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 3, 64), 3)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    for name, fix in (("as-released", None), ("symbolic_build", "symbolic_build"), ("both", "scalar_means")):
        if fix:
            mend(fix)
        with strategy.scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
            model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
        try:
            history = model.fit(data, epochs=2, verbose=0)
            print(f"{name}: ok {history.history['loss']}", flush=True)
        except Exception as exc:  # the upstream errors, reported for the test to read
            print(f"{name}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", flush=True)


if __name__ == "__main__":
    main()

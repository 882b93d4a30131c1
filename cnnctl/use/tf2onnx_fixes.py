"""What tf2onnx 1.17 gets wrong with TensorFlow 2.21, mended before `model.export(format="onnx")` calls it.

tf2onnx's authors test it against TensorFlow up to 2.15; each fix here names the upstream issue, and
goes when a tf2onnx release carries it. Every ONNX file is still proven against the Keras model before
it is kept: a fix that were wrong would fail the export, not ship.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=None)
def mend_tf2onnx() -> None:
    """Register the handlers tf2onnx lacks (once per process)."""
    _erfc()


def _erfc() -> None:
    """`Erfc` as `1 - Erf`.

    TensorFlow computes `gelu` (exact, Keras' default) with `erfc` since tensorflow/tensorflow@456e264;
    tf2onnx has no handler for `Erfc` and, converting with `continue_on_error`, copies the TensorFlow op
    into the graph as it is, which no ONNX runtime can load ("No Op registered for Erfc"): any model with
    a gelu activation. Upstream: onnx/tensorflow-onnx#2347, fix proposed in onnx/tensorflow-onnx#2463
    (open; it maps the whole pattern to ONNX's Gelu, which needs opset 20).
    `1 - erf(x)` loses erfc's relative precision where it is tiny (x > ~4), where gelu's own value is
    ~0 either way.
    """
    import numpy as np
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:
        @classmethod
        def version_9(cls, ctx, node, **kwargs):  # ONNX has Erf since opset 9
            node.type = "Erf"
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
            one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=dtype)).output[0]
            minus = ctx.insert_new_node_on_output("Sub", node.output[0], name=utils.make_name(node.name),
                                                  inputs=[one, node.output[0]])
            ctx.copy_shape(node.output[0], minus.output[0])

"""face-api.js's age and gender network (AgeGenderNet on TinyXception) as an ONNX graph, and its check.

Build-time only (models/build.py imports it; signage never does). face-api.js keeps the trained weights as a
TensorFlow.js weights manifest (age_gender_model-weights_manifest.json: names, shapes and dtypes, most tensors
quantized to uint8 with a scale and a minimum) and one binary shard (age_gender_model.bin: the tensors one after the
other); the network itself is code (src/xception/TinyXception.ts, src/ageGenderNet/AgeGenderNet.ts,
src/common/depthwiseSeparableConv.ts in the @vladmandic/face-api package), followed here:

- input: the face resized to 112x112, RGB 0-255, minus the channel means (122.782, 117.001, 104.298), divided by 255;
- entry flow: conv 3x3 stride 2 ('same') + bias, ReLU; reduction block 0 (input not activated), reduction block 1;
- middle flow: two main blocks (three ReLU + separable conv 3x3, added to the block's input);
- exit flow: a reduction block, then separable conv 3x3 + bias and ReLU (7x7x512);
- a reduction block: [ReLU] separable conv, ReLU, separable conv, max pool 3x3 stride 2 ('same'), plus a 1x1 conv
  stride 2 + bias of the block's input;
- head: average pool 7x7 (global on the 7x7 map), then fc/age (512 -> 1: years) and fc/gender (512 -> 2, softmax:
  male first, as face-api's predictAgeAndGender reads it).

The ONNX graph takes NHWC Nx112x112x3 RGB 0-255 floats and does the normalisation itself; TensorFlow's 'same'
padding (at stride 2 on an even size: one row and column, at the end) is written as explicit pads. The check runs
the same network with TensorFlow's own ops (tf.nn.conv2d, separable_conv2d, max_pool2d with padding='SAME') and
stops the build when the ONNX outputs differ.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
MAIN_BLOCKS = 2
# The conversion must reproduce TensorFlow's outputs this closely (largest absolute difference), or the build stops.
TOLERANCE = 1e-4


def read_weights(manifest: bytes, shard: bytes) -> dict[str, Any]:
    """Every tensor of a tfjs weights manifest with one shard, dequantized (uint8 q -> q * scale + min) to float32."""
    groups = json.loads(manifest)
    if len(groups) != 1 or len(groups[0]["paths"]) != 1:
        raise SystemExit(f"expected one weight group with one shard, got {[g['paths'] for g in groups]}")
    weights: dict[str, Any] = {}
    offset = 0
    for spec in groups[0]["weights"]:
        count = int(np.prod(spec["shape"]))
        quantization = spec.get("quantization")
        if quantization is not None:
            if quantization["dtype"] != "uint8":
                raise SystemExit(f"{spec['name']}: unsupported quantization {quantization['dtype']}")
            raw = np.frombuffer(shard, np.uint8, count, offset).astype(np.float32)
            values = raw * np.float32(quantization["scale"]) + np.float32(quantization["min"])
            offset += count
        else:
            if spec["dtype"] != "float32":
                raise SystemExit(f"{spec['name']}: unsupported dtype {spec['dtype']}")
            values = np.frombuffer(shard, "<f4", count, offset).copy()
            offset += 4 * count
        weights[spec["name"]] = values.reshape(spec["shape"]).astype(np.float32)
    if offset != len(shard):
        raise SystemExit(f"the manifest describes {offset} bytes, the shard has {len(shard)}")
    return weights


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one dimension: (before, after), the odd one at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def agegender_to_onnx(weights: dict[str, Any]) -> bytes:
    """The network as an ONNX graph (opset 13): input `faces` Nx112x112x3, outputs `gender` Nx2 (male, female
    softmax) and `age` Nx1 (years)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    initializers: list[Any] = []
    nodes: list[Any] = []
    used: set[str] = set()

    def constant(name: str, value: Any) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value, np.float32), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attributes: Any) -> str:
        if name in used:
            raise SystemExit(f"duplicate node name {name}")
        used.add(name)
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def conv(x: str, prefix: str, size: int, stride: int) -> tuple[str, int]:
        """conv2d 'same' + bias (tfjs filters [kh, kw, in, out])."""
        filters = weights[f"{prefix}/filters"]
        kernel = filters.shape[0]
        before, after = _same_pads(size, kernel, stride)
        w = constant(f"{prefix}/filters", filters.transpose(3, 2, 0, 1))
        b = constant(f"{prefix}/bias", weights[f"{prefix}/bias"])
        pads = [before, before, after, after]
        out = node("Conv", [x, w, b], prefix, kernel_shape=[kernel, kernel], strides=[stride, stride], pads=pads)
        return out, -(-size // stride)

    def separable(x: str, prefix: str) -> str:
        """separableConv2d 'same' stride 1 (depthwise 3x3, then pointwise 1x1) + bias."""
        depthwise = weights[f"{prefix}/depthwise_filter"]  # [3, 3, C, 1]
        channels = depthwise.shape[2]
        dw = constant(f"{prefix}/depthwise_filter", depthwise.transpose(2, 3, 0, 1))
        x = node("Conv", [x, dw], f"{prefix}/depthwise", kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=channels)
        pw = constant(f"{prefix}/pointwise_filter", weights[f"{prefix}/pointwise_filter"].transpose(3, 2, 0, 1))
        b = constant(f"{prefix}/bias", weights[f"{prefix}/bias"])
        return node("Conv", [x, pw, b], f"{prefix}/pointwise", kernel_shape=[1, 1])

    def reduction(x: str, prefix: str, size: int, activate: bool) -> tuple[str, int]:
        out = node("Relu", [x], f"{prefix}/relu_in") if activate else x
        out = separable(out, f"{prefix}/separable_conv0")
        out = separable(node("Relu", [out], f"{prefix}/relu0"), f"{prefix}/separable_conv1")
        before, after = _same_pads(size, 3, 2)
        pads = [before, before, after, after]
        out = node("MaxPool", [out], f"{prefix}/max_pool", kernel_shape=[3, 3], strides=[2, 2], pads=pads)
        shortcut, reduced = conv(x, f"{prefix}/expansion_conv", size, 2)
        return node("Add", [out, shortcut], f"{prefix}/add"), reduced

    def main_block(x: str, prefix: str) -> str:
        out = x
        for i in range(3):
            out = separable(node("Relu", [out], f"{prefix}/relu{i}"), f"{prefix}/separable_conv{i}")
        return node("Add", [out, x], f"{prefix}/add")

    mean = constant("mean_rgb", np.array(MEAN_RGB, np.float32).reshape(1, 1, 1, 3))
    scale = constant("inverse_255", np.array(1.0 / 255.0, np.float32))
    x = node("Sub", ["faces", mean], "normalise/sub")
    x = node("Mul", [x, scale], "normalise/scale")
    x = node("Transpose", [x], "to_nchw", perm=[0, 3, 1, 2])
    x, size = conv(x, "entry_flow/conv_in", INPUT_SIZE, 2)
    x = node("Relu", [x], "entry_flow/relu")
    x, size = reduction(x, "entry_flow/reduction_block_0", size, activate=False)
    x, size = reduction(x, "entry_flow/reduction_block_1", size, activate=True)
    for i in range(MAIN_BLOCKS):
        x = main_block(x, f"middle_flow/main_block_{i}")
    x, size = reduction(x, "exit_flow/reduction_block", size, activate=True)
    x = node("Relu", [separable(x, "exit_flow/separable_conv")], "exit_flow/relu")
    if size != 7:
        raise SystemExit(f"expected a 7x7 feature map, got {size}x{size}")
    pooled = node("Flatten", [node("GlobalAveragePool", [x], "pool")], "pooled")

    def dense(prefix: str, output: str) -> None:
        w = constant(f"{prefix}/weights", weights[f"{prefix}/weights"])
        b = constant(f"{prefix}/bias", weights[f"{prefix}/bias"])
        nodes.append(helper.make_node("Gemm", [pooled, w, b], [output], name=prefix))

    dense("fc/gender", "gender_logits")
    nodes.append(helper.make_node("Softmax", ["gender_logits"], ["gender"], name="gender", axis=-1))
    dense("fc/age", "age")
    graph = helper.make_graph(
        nodes,
        "faceapi_agegender",
        [helper.make_tensor_value_info("faces", TensorProto.FLOAT, ["N", INPUT_SIZE, INPUT_SIZE, 3])],
        [
            helper.make_tensor_value_info("gender", TensorProto.FLOAT, ["N", 2]),
            helper.make_tensor_value_info("age", TensorProto.FLOAT, ["N", 1]),
        ],
        initializers,
    )
    graph.doc_string = "converted by models/build.py from face-api.js's age_gender_model (see manifest.json)"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="models/build.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def reference_tf(weights: dict[str, Any], faces: Any) -> tuple[Any, Any]:
    """The same network with TensorFlow's own ops, as face-api.js runs it (gender softmax, age)."""
    import tensorflow as tf

    def conv(x: Any, prefix: str, stride: int) -> Any:
        return tf.nn.conv2d(x, weights[f"{prefix}/filters"], stride, "SAME") + weights[f"{prefix}/bias"]

    def separable(x: Any, prefix: str) -> Any:
        out = tf.nn.separable_conv2d(
            x, weights[f"{prefix}/depthwise_filter"], weights[f"{prefix}/pointwise_filter"], [1, 1, 1, 1], "SAME"
        )
        return out + weights[f"{prefix}/bias"]

    def reduction(x: Any, prefix: str, activate: bool) -> Any:
        out = tf.nn.relu(x) if activate else x
        out = separable(tf.nn.relu(separable(out, f"{prefix}/separable_conv0")), f"{prefix}/separable_conv1")
        out = tf.nn.max_pool2d(out, 3, 2, "SAME")
        return out + conv(x, f"{prefix}/expansion_conv", 2)

    x = (tf.constant(faces, tf.float32) - np.array(MEAN_RGB, np.float32)) / 255.0
    x = tf.nn.relu(conv(x, "entry_flow/conv_in", 2))
    x = reduction(x, "entry_flow/reduction_block_0", activate=False)
    x = reduction(x, "entry_flow/reduction_block_1", activate=True)
    for i in range(MAIN_BLOCKS):
        prefix = f"middle_flow/main_block_{i}"
        out = x
        for j in range(3):
            out = separable(tf.nn.relu(out), f"{prefix}/separable_conv{j}")
        x = out + x
    x = reduction(x, "exit_flow/reduction_block", activate=True)
    x = tf.nn.relu(separable(x, "exit_flow/separable_conv"))
    pooled = tf.reshape(tf.nn.avg_pool2d(x, 7, 2, "VALID"), (x.shape[0], -1))
    gender = tf.nn.softmax(tf.matmul(pooled, weights["fc/gender/weights"]) + weights["fc/gender/bias"])
    age = tf.matmul(pooled, weights["fc/age/weights"]) + weights["fc/age/bias"]
    return gender.numpy(), age.numpy()


def check_against_tf(weights: dict[str, Any], model: bytes) -> float:
    """Largest difference between the ONNX graph and the TensorFlow network on seeded faces (0-255, batch 3), in the
    gender probabilities (and the age in years, which must agree within 100 x TOLERANCE); the build stops above."""
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    faces = np.random.default_rng(0).uniform(0, 255, (3, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
    gender, age = session.run(["gender", "age"], {"faces": faces})
    expected_gender, expected_age = reference_tf(weights, faces)
    worst = float(np.max(np.abs(gender - expected_gender)))
    worst_age = float(np.max(np.abs(age - expected_age)))
    print(f"gender: largest difference from TensorFlow {worst:.2e} (probability), {worst_age:.2e} (age, years)")
    if worst > TOLERANCE or worst_age > 100 * TOLERANCE:
        raise SystemExit(f"the ONNX age/gender graph differs from TensorFlow by {worst}, {worst_age} years")
    return worst

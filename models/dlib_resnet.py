"""dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1.dat) as an ONNX graph, and its check.

Build-time only (models/build.py imports it; signage never does). dlib keeps a trained network in its own binary
serialization, written by the C++ templates of dlib/dnn (core.h: add_layer, add_tag_layer, add_skip_layer; layers.h:
con_, affine_, relu_, max_pool_, avg_pool_, add_prev_, fc_; input.h; loss.h; cuda/tensor.h; serialize.h), so this
module reads it with numpy following those sources:

- integers: one control byte (low 4 bits: how many bytes follow, bit 7: negative), then the magnitude little-endian;
- floats (scalars): two such integers, mantissa and exponent (value = mantissa * 2**exponent);
- strings: a length integer, then the bytes; bools: the character '0' or '1';
- tensors: version 2, four integers (samples, k, rows, cols), then raw little-endian float32 values;
  alias tensors (views into a layer's parameters): version 1 and four integers, no data.

The network type is `loss_metric<fc_no_bias<128, avg_pool_everything<ResNet blocks<input_rgb_image_sized<150>>>>>`
(dlib's dnn_face_recognition_ex.cpp). The converted graph takes the aligned 150x150 RGB chip as 0-255 floats
(NHWC) and applies dlib's input scaling itself ((value - channel mean) / 256); each con + affine pair (batch norm
frozen after training) becomes one Conv; dlib's add of two tensors of different shapes (the strided blocks:
fewer channels on the shortcut, and 3x3 vs 4x4 or 1x1 vs 2x2 rows/cols at the last two strides, since dlib's
strided convs do not pad) becomes zero padding at the end of each dimension, as dlib's cpu add does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CHIP_SIZE = 150
# dlib's compute_face_descriptor cuts its chips with get_face_chip_details(shape, 150, padding=0.25).
CHIP_PADDING = 0.25
# The conversion must reproduce dlib's own descriptors this closely (cosine similarity), or the build stops.
LEAST_COSINE = 0.999


class DlibReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int(self) -> int:
        control = self.data[self.pos]
        size = control & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        return float(mantissa) * 2.0 ** self.int()

    def string(self) -> str:
        size = self.int()
        text = self.data[self.pos : self.pos + size].decode("ascii")
        self.pos += size
        return text

    def bool(self) -> bool:
        char = self.data[self.pos : self.pos + 1]
        self.pos += 1
        if char not in (b"0", b"1"):
            raise ValueError(f"not a dlib bool at byte {self.pos - 1}: {char!r}")
        return char == b"1"

    def tensor(self) -> Any:
        self.expect(self.int(), 2, "tensor version")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, "<f4", count, self.pos).reshape(shape).astype(np.float32)
        self.pos += 4 * count
        return values

    def alias_shape(self) -> tuple[int, ...]:
        self.expect(self.int(), 1, "alias_tensor version")
        return tuple(self.int() for _ in range(4))

    @staticmethod
    def expect(got: object, wanted: object, what: str) -> None:
        if got != wanted:
            raise ValueError(f"dlib model: {what} is {got!r}, expected {wanted!r}")


@dataclass(frozen=True)
class DlibLayer:
    kind: str  # "con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc"
    values: dict[str, Any]


def read_dlib_layer(reader: DlibReader) -> DlibLayer:
    version = reader.string()
    if version == "con_4":
        params = reader.tensor().reshape(-1)
        filters, kh, kw, sy, sx, py, px = (reader.int() for _ in range(7))
        filter_shape, _ = reader.alias_shape(), reader.alias_shape()
        for _ in range(4):  # learning-rate and weight-decay multipliers: training only
            reader.float()
        size = int(np.prod(filter_shape))
        reader.expect(filter_shape[0], filters, "con filters")
        reader.expect((kh, kw), filter_shape[2:], "con kernel")
        weights = params[:size].reshape(filter_shape)
        bias = params[size : size + filters]
        return DlibLayer("con", {"weights": weights, "bias": bias, "stride": (sy, sx), "pad": (py, px)})
    if version == "affine_":
        params = reader.tensor().reshape(-1)
        gamma_shape, _ = reader.alias_shape(), reader.alias_shape()
        reader.expect(reader.int(), 0, "affine mode (0 = per channel)")
        channels = int(np.prod(gamma_shape))
        return DlibLayer("affine", {"gamma": params[:channels], "beta": params[channels : 2 * channels]})
    if version == "relu_":
        return DlibLayer("relu", {})
    if version in ("max_pool_2", "avg_pool_2"):
        kh, kw, sy, sx, py, px = (reader.int() for _ in range(6))
        kind = "max_pool" if version == "max_pool_2" else "avg_pool"
        return DlibLayer(kind, {"kernel": (kh, kw), "stride": (sy, sx), "pad": (py, px)})
    if version == "add_prev_":
        return DlibLayer("add_prev", {})
    if version == "fc_2":
        outputs, inputs = reader.int(), reader.int()
        params = reader.tensor().reshape(-1)
        weight_shape, _ = reader.alias_shape(), reader.alias_shape()
        reader.expect(reader.int(), 1, "fc bias mode (1 = no bias)")
        for _ in range(4):
            reader.float()
        reader.expect(weight_shape[:2], (inputs, outputs), "fc weights")
        return DlibLayer("fc", {"weights": params[: inputs * outputs].reshape(inputs, outputs)})
    raise ValueError(f"dlib model: unexpected layer {version!r} at byte {reader.pos}")


def read_dlib_metric_net(data: bytes) -> tuple[tuple[float, float, float], list[DlibLayer]]:
    """The input means and the layers, bottom (input) first, of a serialized dlib `loss_metric` network.

    dlib writes the network outermost first: each add_layer writes its version, then its sub-network, then its
    layer, then its training state (three bools, three empty tensors); tags and skips write only a version. So the
    file is: the loss layer, the chain of versions, the input layer, then every layer from the input up.
    """
    reader = DlibReader(data)
    reader.expect(reader.int(), 1, "loss layer version")
    reader.expect(reader.string(), "loss_metric_2", "loss")
    _margin, _distance_threshold = reader.float(), reader.float()  # training only (the threshold is 0.6)
    versions = []
    while reader.data[reader.pos] == 1 and reader.data[reader.pos + 1] in (1, 2, 3):
        versions.append(reader.int())
    reader.expect(reader.string(), "input_rgb_image_sized", "input layer")
    means = (reader.float(), reader.float(), reader.float())
    reader.expect((reader.int(), reader.int()), (150, 150), "input size")
    layers = []
    while reader.pos < len(data):
        layers.append(read_dlib_layer(reader))
        for _ in range(3):  # add_layer's training state: three bools, three (empty) tensors
            reader.bool()
        for _ in range(3):
            reader.tensor()
        if len(layers) == 1 and versions[-1] == 3:
            reader.int()  # the add_layer over the input, from version 3 on, also writes a sample expansion factor
    return means, layers


def dlib_resnet_to_onnx(data: bytes) -> bytes:
    """The network as an ONNX graph: `chips` (N, 150, 150, 3) RGB float 0-255 -> `descriptor` (N, 128).

    dlib's template (dlib/examples/dnn_face_recognition_ex.cpp): a 7x7/2 conv, 3x3/2 max pool, then residual
    blocks of two 3x3 convs (32 x3, 64 x4, 128 x3, 256 x3, 256 x1 channels; the first block of each width after
    the first strides by 2 and average-pools its shortcut by 2), a global average pool and a 256->128 matrix without
    bias. Each con + affine pair (batch norm frozen after training) is folded into one Conv.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    means, layers = read_dlib_metric_net(data)
    queue = list(reversed(layers))
    nodes: list[Any] = []
    initializers: list[Any] = []

    def constant(name: str, value: Any) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def take(kind: str) -> DlibLayer:
        layer = queue.pop()
        DlibReader.expect(layer.kind, kind, "layer in the ResNet template")
        return layer

    def node(op: str, inputs: list[str], name: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def out_size(size: int, kernel: int, stride: int, pad: int) -> int:
        return (size + 2 * pad - kernel) // stride + 1

    def conv_affine(x: str, size: int, name: str) -> tuple[str, int, int]:
        con, affine = take("con").values, take("affine").values
        weights = con["weights"] * affine["gamma"][:, None, None, None]
        bias = con["bias"] * affine["gamma"] + affine["beta"]
        (py, px), (sy, sx), (kh, kw) = con["pad"], con["stride"], weights.shape[2:]
        inputs = [x, constant(f"{name}_w", weights.astype(np.float32)), constant(f"{name}_b", bias.astype(np.float32))]
        y = node("Conv", inputs, name, kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])
        return y, weights.shape[0], out_size(size, kh, sy, py)

    def pool(op: str, x: str, size: int, name: str) -> tuple[str, int]:
        values = take("max_pool" if op == "MaxPool" else "avg_pool").values
        (kh, kw), (sy, sx), (py, px) = values["kernel"], values["stride"], values["pad"]
        y = node(op, [x], name, kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])
        return y, out_size(size, kh, sy, py)

    def zero_padded(x: str, channels: int, size: int, to_channels: int, to_size: int, name: str) -> str:
        """dlib's add_prev adds tensors of different shapes as if both were zero-padded at the end to the larger."""
        if (channels, size) == (to_channels, to_size):
            return x
        pads = np.array([0, 0, 0, 0, 0, to_channels - channels, to_size - size, to_size - size], np.int64)
        return node("Pad", [x, constant(f"{name}_pads", pads)], name, mode="constant")

    x = node("Transpose", ["chips"], "nchw", perm=[0, 3, 1, 2])
    x = node("Sub", [x, constant("means", np.array(means, np.float32).reshape(1, 3, 1, 1))], "centred")
    x = node("Mul", [x, constant("scale", np.array(1 / 256, np.float32))], "scaled")
    x, channels, size = conv_affine(x, 150, "conv0")
    take("relu")
    x = node("Relu", [x], "relu0")
    x, size = pool("MaxPool", x, size, "maxpool0")
    block = 0
    while queue[-1].kind == "con":
        block += 1
        shortcut, shortcut_channels, shortcut_size = x, channels, size
        y, channels, size = conv_affine(x, size, f"b{block}_conv1")
        take("relu")
        y = node("Relu", [y], f"b{block}_relu1")
        y, channels, size = conv_affine(y, size, f"b{block}_conv2")
        if queue[-1].kind == "avg_pool":  # a down block: its shortcut is average-pooled by 2
            shortcut, shortcut_size = pool("AveragePool", shortcut, shortcut_size, f"b{block}_shortcut")
        take("add_prev")
        out_channels, out_size_ = max(channels, shortcut_channels), max(size, shortcut_size)
        y = zero_padded(y, channels, size, out_channels, out_size_, f"b{block}_pad")
        shortcut = zero_padded(shortcut, shortcut_channels, shortcut_size, out_channels, out_size_, f"b{block}_padsc")
        x = node("Add", [y, shortcut], f"b{block}_add")
        channels, size = out_channels, out_size_
        take("relu")
        x = node("Relu", [x], f"b{block}_relu2")
    DlibReader.expect(take("avg_pool").values["kernel"], (0, 0), "final pool (0x0 = over everything)")
    x = node("GlobalAveragePool", [x], "pooled")
    x = node("Flatten", [x], "flat", axis=1)
    fc = take("fc").values["weights"]
    DlibReader.expect(fc.shape, (channels, 128), "fc weights")
    node("MatMul", [x, constant("fc_w", fc.astype(np.float32))], "descriptor")
    DlibReader.expect(len(queue), 0, "layers left over")
    graph = helper.make_graph(
        nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["batch", 150, 150, 3])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["batch", 128])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="signage models/build.py"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    print(f"dlib resnet: {block} residual blocks, {sum(layer.kind == 'con' for layer in layers)} convolutions")
    return bytes(model.SerializeToString())


def golden_crop(rgb: Any, box: list[float]) -> tuple[list[int], Any]:
    """A 150x150 chip cut from a photo by plain slicing (every `step`-th pixel, no resampling): any machine gets the
    very same bytes, so a stored dlib descriptor of it pins the converted model exactly. Returns [x0, y0, step]."""
    width = box[2] - box[0]
    step = max(1, round(1.6 * width / CHIP_SIZE))
    span = CHIP_SIZE * step
    height, full_width = rgb.shape[:2]
    x0 = int(min(max(0, (box[0] + box[2]) / 2 - span / 2), full_width - span))
    y0 = int(min(max(0, (box[1] + box[3]) / 2 - span / 2), height - span))
    return [x0, y0, step], rgb[y0 : y0 + span : step, x0 : x0 + span : step]


def check_against_dlib(dat: Path, shape_predictor: Path, onnx_path: Path, photos: Path) -> dict[str, Any]:
    """dlib's own descriptors vs the ONNX graph's, on the same chips; the build stops below LEAST_COSINE.

    The chips: dlib's aligned chips (its HOG face detector, its five-point shape predictor and get_face_chip, as
    compute_face_descriptor does) of the test portraits and their mirror images, slicing crops of the portraits
    (stored with dlib's descriptors as the tests' golden file), and seeded noise. Needs `dlib` (pip dlib-bin).
    Returns the golden data: per portrait, the crop and dlib's descriptor of it, and dlib's descriptor of its own
    aligned chip (the tests compare the engine's YuNet-aligned chips with it).
    """
    import json

    import cv2
    import dlib
    import onnxruntime as ort

    recogniser = dlib.face_recognition_model_v1(str(dat))
    predictor = dlib.shape_predictor(str(shape_predictor))
    detector = dlib.get_frontal_face_detector()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    labels = json.loads((photos / "faces.json").read_text())
    chips: list[tuple[str, Any]] = []
    golden: dict[str, Any] = {}
    for name in sorted(labels):
        rgb = cv2.cvtColor(cv2.imread(str(photos / name)), cv2.COLOR_BGR2RGB)
        for mirrored, image in ((False, rgb), (True, np.ascontiguousarray(rgb[:, ::-1]))):
            found = sorted(detector(image, 1), key=lambda d: -d.area())
            if not found:
                raise SystemExit(f"dlib check: dlib finds no face on {name}")
            chip = dlib.get_face_chip(image, predictor(image, found[0]), size=CHIP_SIZE, padding=CHIP_PADDING)
            chips.append((f"{name}{' mirrored' if mirrored else ''} (dlib chip)", chip))
            if not mirrored:
                golden[name] = {"dlib_aligned_descriptor": dlib_descriptor(recogniser, chip)}
        crop, chip = golden_crop(rgb, labels[name]["faces"][0]["box"])
        chips.append((f"{name} (crop)", chip))
        golden[name] |= {"crop": crop, "crop_descriptor": dlib_descriptor(recogniser, chip)}
    rng = np.random.default_rng(0)
    chips += [(f"noise {i}", rng.integers(0, 256, (CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)) for i in range(3)]
    batch = np.stack([chip for _, chip in chips]).astype(np.float32)
    (converted,) = session.run(None, {session.get_inputs()[0].name: batch})
    worst_cosine, worst_difference = 1.0, 0.0
    for (label, chip), ours in zip(chips, converted, strict=True):
        theirs = np.asarray(dlib_descriptor(recogniser, chip), np.float32)
        cosine = float(theirs @ ours / (np.linalg.norm(theirs) * np.linalg.norm(ours)))
        difference = float(np.max(np.abs(theirs - ours)))
        print(f"  {label:36s} cosine {cosine:.7f}  largest difference {difference:.1e}")
        worst_cosine, worst_difference = min(worst_cosine, cosine), max(worst_difference, difference)
    print(f"dlib check: {len(chips)} chips, least cosine {worst_cosine:.7f}, largest difference {worst_difference:.1e}")
    if worst_cosine < LEAST_COSINE:
        raise SystemExit(f"the ONNX conversion differs from dlib: cosine {worst_cosine} < {LEAST_COSINE}")
    return {"least_cosine": worst_cosine, "largest_difference": worst_difference, "portraits": golden}


def dlib_descriptor(recogniser: Any, chip: Any) -> list[float]:
    return [round(float(v), 7) for v in recogniser.compute_face_descriptor(np.ascontiguousarray(chip))]

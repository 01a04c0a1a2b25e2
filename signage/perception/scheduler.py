"""The perception schedule the engine runs: a frame costs what the people in it need, not frames x models.

`PerceptionScheduler.analyze(frame) -> FaceAnalysis` is a drop-in for `FacePipeline.analyze` (same result type,
gaze included) that keeps a little state between frames, the faces it follows:

- **Detection cadence.** The detector runs on every `detect_every_n_frames`-th call, and on the next call at once
  when a followed face is lost (its landmark score fell). On a detection frame the detections are the truth: they
  are matched to the followed faces by IoU (a match keeps its landmarks, pose and gaze), new ones are added, and
  followed faces no detection confirms are dropped.
- **Still frames skip the detector.** Detection costs the same on every frame, whoever is there. A frame the
  cadence would detect on goes without it (at most `detect_still_max_skips` in a row) when the last detection found
  no new face, every followed face has a head pose, and the picture agrees with that detection: outside the
  followed faces (and a margin) no cell of a small grey thumbnail (means of ~4x4 pixels at 640x480) changed by more
  than `detect_still_max_change` grey levels, and each followed face, at the box its motion carried it to, looks as
  it did then (an 8x8 grid of means over the box, mean change at most `detect_still_face_max_change`). A person
  stepping in, a face leaving or replaced, a cut or a light change fails the check and the detector runs; the
  followed faces are re-measured by their meshes as on any frame. On the composed clips recall, precision and the
  boxes' IoU are those of detecting every frame (fast clips: identical; slow: mean IoU 0.8432 vs 0.8436), and on
  clips of slowly moving faces (people who stop to watch) more than half of the frames skip it; the check costs
  0.15 ms a frame with no face, ~0.3 ms with six (a detection ~1.3 ms). Pixel noise (sigma 6) changes neither.
- **Landmarks from the previous region of interest.** In between, each face's box is carried by its measured motion
  (constant velocity); when a face is refreshed, the face mesh runs on a crop around that box and the face's new box
  is read off the mesh (through the box-to-mesh relation measured on the face's last detection, so boxes stay
  comparable with the detector's).
- **Refresh budget.** At most `face_refreshes_per_frame` faces get fresh landmarks per frame, the stalest first;
  new faces always do (they have no pose yet). The others keep their last head pose and gaze, so with a few faces
  every face is refreshed every frame, and with many each one every few frames.
- **Irises for the attentive.** The iris model (two calls a face, each about the cost of one face mesh) runs only on
  refreshed faces that face the screen, and on at most `iris_refreshes_per_frame` of them per frame: the stalest eye
  measurement first, a face whose gaze was last on the screen counting as ATTENTIVE_PRIORITY_FRAMES staler (the
  reading detector follows those; the others are served later, not never). A refreshed face that faces the screen
  but waits for its irises keeps its last eye-in-head angles, added to its fresh head pose; a passer-by's gaze is not
  needed, and is NaN. `ages()` says how old the oldest head pose and eye measurement are, in frames.
The models are run one face at a time: batching faces (or a face's two eyes) in one call was measured at 0-8% faster
and, re-measured with a batch-dim copy of each model, between 20% faster and 20% slower (compute-bound models), not
worth rewriting the ONNX files' batch dimension.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from signage.config import Config
from signage.perception.faces import YuNetDetector
from signage.perception.gaze import eye_in_head, gaze_angles, on_screen
from signage.perception.head_pose import facing, head_poses
from signage.perception.iris import IrisLandmarker
from signage.perception.landmarks import FaceLandmarker
from signage.perception.models import ModelStore, resolve_models_dir
from signage.perception.pipeline import Detector, FaceAnalysis, IrisLocator, Landmarker, model_names
from signage.tracking.geometry import greedy_matches
from signage.types import FaceDetections, FloatArray, Frame

MATCH_MIN_IOU = 0.3
# The still-frame check: frames are halved (INTER_LINEAR at exactly 1/2 is a 2x2 mean) until narrower than twice
# this, so a thumbnail cell is the mean of 4x4 pixels of a 640x480 frame (pixel noise averages out); around each
# followed face a margin of this share of its size (and one cell) is left out, as the face may move in it.
STILL_THUMB_WIDTH = 160
STILL_FACE_MARGIN = 0.25
STILL_FACE_GRID = 8  # a followed face's look: the means of an 8x8 grid over its box in the thumbnail
VELOCITY_SMOOTHING = 0.5  # weight of the newest velocity measurement
# An attentive face (its gaze last on the screen) gets its irises before one this many frames staler that looks
# elsewhere: the reading detector needs the attentive faces' eye movements; the others are served, only later.
ATTENTIVE_PRIORITY_FRAMES = 6
# Mesh points standing in for the detector's five: eye centres (corner midpoints), nose tip, mouth corners; the
# subject's right (the image's left) first, as YuNet orders them.
FIVE_FROM_MESH = ((33, 133), (362, 263), (1, 1), (61, 61), (291, 291))


@dataclass(frozen=True)
class FollowedFace:
    """What the scheduler remembers of one face between frames."""

    box: FloatArray  # (4,) x1, y1, x2, y2 as last measured (detection or mesh), frame pixels
    points: FloatArray  # (5, 2) the five points with that box
    score: float  # the detector's score when it was last detected
    t_measured: float  # when box was measured (frame t_mono)
    velocity: FloatArray  # (4,) box change per second
    box_in_mesh: FloatArray | None  # the box relative to the mesh's bounding box (offsets in mesh widths/heights)
    head_pose: FloatArray  # (3,) NaN until a mesh ran
    mesh_score: float
    gaze: FloatArray  # (2,) NaN unless facing at the last refresh and its eyes were measured (then or before)
    eyes: FloatArray  # (2,) eye-in-head angles from the last iris measurement; NaN: never measured
    refreshed_at: int  # the call that last ran the face mesh on it; -1: never
    irises_at: int  # the call that last ran the iris model on it; -1: never

    def carried(self, t_mono: float) -> tuple[FloatArray, FloatArray]:
        """The box and five points predicted for time t_mono from the last measurement and the motion."""
        shift = self.velocity * max(0.0, t_mono - self.t_measured)
        box: FloatArray = (self.box + shift).astype(np.float32)
        centre_shift = np.array([(shift[0] + shift[2]) / 2, (shift[1] + shift[3]) / 2], np.float32)
        points: FloatArray = (self.points + centre_shift).astype(np.float32)
        return box, points

    def measured(self, box: FloatArray, points: FloatArray, t_mono: float) -> FollowedFace:
        dt = t_mono - self.t_measured
        velocity = self.velocity
        if dt > 1e-6:
            newest = (box - self.box) / dt
            velocity = (VELOCITY_SMOOTHING * newest + (1 - VELOCITY_SMOOTHING) * self.velocity).astype(np.float32)
        return dataclasses.replace(self, box=box, points=points, t_measured=t_mono, velocity=velocity)


def _new_face(box: FloatArray, points: FloatArray, score: float, t_mono: float) -> FollowedFace:
    return FollowedFace(
        box=box.astype(np.float32),
        points=points.astype(np.float32),
        score=score,
        t_measured=t_mono,
        velocity=np.zeros(4, np.float32),
        box_in_mesh=None,
        head_pose=np.full(3, np.nan, np.float32),
        mesh_score=float("nan"),
        gaze=np.full(2, np.nan, np.float32),
        eyes=np.full(2, np.nan, np.float32),
        refreshed_at=-1,
        irises_at=-1,
    )


def match_boxes(followed: npt.NDArray[np.float32], found: npt.NDArray[np.float32]) -> dict[int, int]:
    """Greedy one-to-one matches, best IoU first, at IoU >= MATCH_MIN_IOU: {found index: followed index}."""
    return {j: i for i, j in greedy_matches(followed, found, MATCH_MIN_IOU)}


def mesh_box(mesh: npt.NDArray[np.float32]) -> FloatArray:
    """The bounding box (4,) of a face mesh's x, y."""
    box: FloatArray = np.concatenate([mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)]).astype(np.float32)
    return box


def box_in_mesh(box: npt.NDArray[np.float32], mesh: npt.NDArray[np.float32]) -> FloatArray:
    """The relation of a box to a mesh's bounding box: offsets of each side in mesh widths and heights."""
    frame = mesh_box(mesh)
    size = np.maximum(np.array([frame[2] - frame[0], frame[3] - frame[1]] * 2, np.float32), 1e-3)
    relation: FloatArray = ((box - frame) / size).astype(np.float32)
    return relation


def box_from_mesh(relation: npt.NDArray[np.float32], mesh: npt.NDArray[np.float32]) -> FloatArray:
    frame = mesh_box(mesh)
    size = np.array([frame[2] - frame[0], frame[3] - frame[1]] * 2, np.float32)
    box: FloatArray = (frame + relation * size).astype(np.float32)
    return box


def still_thumbnails(image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Small grey pictures of the frame, for telling a still frame from a changed one: the frame halved until it is
    narrower than twice STILL_THUMB_WIDTH (cells of about 4x4 pixels of a 640x480 frame), and the level above it
    (twice as fine, for the faces' looks)."""
    small: npt.NDArray[np.uint8] = image
    finer = small
    while small.shape[1] >= 2 * STILL_THUMB_WIDTH and small.shape[0] >= 2:
        finer = small
        small = np.asarray(
            cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv2.INTER_LINEAR), np.uint8
        )
    coarse = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), np.uint8)
    fine = np.asarray(cv2.cvtColor(finer, cv2.COLOR_BGR2GRAY), np.uint8)
    return coarse, fine


def still_change(
    thumbnail: npt.NDArray[np.uint8],
    reference: npt.NDArray[np.uint8],
    faces: npt.NDArray[np.float32],
    frame_width: int,
) -> int:
    """The largest change of a thumbnail cell (grey levels) outside the given face boxes (N, 4 frame pixels), each
    widened by STILL_FACE_MARGIN of its size and one cell."""
    change = cv2.absdiff(thumbnail, reference)
    if len(faces):
        rows, cols = change.shape
        scale = cols / frame_width
        size = np.stack([faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1]] * 2, axis=1)
        grown = (faces + size * STILL_FACE_MARGIN * np.array([-1, -1, 1, 1], np.float32)) * scale
        cells = np.concatenate([np.floor(grown[:, :2]) - 1, np.ceil(grown[:, 2:]) + 1], axis=1)
        cells = np.clip(cells, 0, [cols, rows, cols, rows]).astype(np.intp)
        for x1, y1, x2, y2 in cells:
            change[y1:y2, x1:x2] = 0
    return int(change.max()) if change.size else 0


def face_look(thumbnail: npt.NDArray[np.uint8], box: npt.NDArray[np.float32], frame_width: int) -> FloatArray:
    """A face's look: its box in the thumbnail as a STILL_FACE_GRID square of means (NaN when the box is off it)."""
    scale = thumbnail.shape[1] / frame_width
    x1, y1, x2, y2 = (round(float(v) * scale) for v in box)
    x1, y1 = max(x1, 0), max(y1, 0)
    x2, y2 = min(x2, thumbnail.shape[1]), min(y2, thumbnail.shape[0])
    if x2 - x1 < 2 or y2 - y1 < 2:
        return np.full((STILL_FACE_GRID, STILL_FACE_GRID), np.nan, np.float32)
    look = cv2.resize(thumbnail[y1:y2, x1:x2], (STILL_FACE_GRID, STILL_FACE_GRID), interpolation=cv2.INTER_AREA)
    result: FloatArray = look.astype(np.float32)
    return result


def five_points_from_mesh(mesh: npt.NDArray[np.float32]) -> FloatArray:
    points: FloatArray = np.array([(mesh[a, :2] + mesh[b, :2]) / 2 for a, b in FIVE_FROM_MESH], np.float32).reshape(
        5, 2
    )
    return points


class PerceptionScheduler:
    """`analyze(frame) -> FaceAnalysis` on the schedule above; one instance per camera (it follows faces)."""

    def __init__(
        self,
        *,
        detector: Detector,
        landmarker: Landmarker,
        irises: IrisLocator | None,
        facing_max_yaw_deg: float,
        facing_max_pitch_deg: float,
        min_mesh_score: float = 0.5,
        detect_every_n_frames: int = 3,
        detect_still_max_skips: int = 0,
        detect_still_max_change: float = 12.0,
        detect_still_face_max_change: float = 8.0,
        face_refreshes_per_frame: int = 2,
        iris_refreshes_per_frame: int = 1,
        on_screen_max_horizontal_deg: float = 20.0,
        on_screen_max_vertical_deg: float = 15.0,
        model_versions: tuple[str, ...] = (),
    ) -> None:
        if min(detect_every_n_frames, face_refreshes_per_frame, iris_refreshes_per_frame) < 1:
            raise ValueError(
                "detect_every_n_frames, face_refreshes_per_frame and iris_refreshes_per_frame must be >= 1"
            )
        if min(detect_still_max_skips, detect_still_max_change, detect_still_face_max_change) < 0:
            raise ValueError(
                "detect_still_max_skips, detect_still_max_change and detect_still_face_max_change must be >= 0"
            )
        self._detector = detector
        self._landmarker = landmarker
        self._irises = irises
        self._max_yaw = facing_max_yaw_deg
        self._max_pitch = facing_max_pitch_deg
        self._min_mesh_score = min_mesh_score
        self._detect_every = detect_every_n_frames
        self._still_skips = detect_still_max_skips
        self._still_change = detect_still_max_change
        self._still_face_change = detect_still_face_max_change
        self._refreshes = face_refreshes_per_frame
        self._iris_refreshes = iris_refreshes_per_frame
        self._on_screen_h = on_screen_max_horizontal_deg
        self._on_screen_v = on_screen_max_vertical_deg
        self.model_versions = model_versions
        self._faces: tuple[FollowedFace, ...] = ()
        self._calls = 0
        self._detect_next = True
        # the still-frame check: the thumbnail and face boxes of the last detection, skips since it, whether it
        # found only faces already followed
        self._still_reference: npt.NDArray[np.uint8] | None = None
        self._still_boxes: FloatArray = np.zeros((0, 4), np.float32)
        self._still_looks: list[FloatArray] = []
        self._skipped = 0
        self._settled = False
        self.detections_skipped = 0  # frames the still-frame check spared the detector (for tests and benchmarks)

    @classmethod
    def from_config(cls, config: Config) -> PerceptionScheduler:
        """Verify the model files (ModelError names a missing or altered one) and open their sessions."""
        settings = config.perception
        names = model_names(config)
        if "face_landmark" not in names:
            raise ValueError("the perception scheduler needs perception.landmarks = true")
        models = ModelStore.load(resolve_models_dir(settings.models_dir), names=names)
        threads = settings.intra_op_threads
        return cls(
            detector=YuNetDetector(
                models=models,
                threads=threads,
                detect_width=settings.detect_width,
                score_threshold=settings.score_threshold,
                nms_iou_threshold=settings.nms_iou_threshold,
                max_faces=settings.max_faces,
                min_face_px=settings.min_face_px,
            ),
            landmarker=FaceLandmarker(models=models, threads=threads),
            irises=IrisLandmarker(models=models, threads=threads) if "iris_landmark" in names else None,
            facing_max_yaw_deg=config.audience.facing_max_yaw_deg,
            facing_max_pitch_deg=config.audience.facing_max_pitch_deg,
            min_mesh_score=settings.min_landmark_score,
            detect_every_n_frames=settings.detect_every_n_frames,
            detect_still_max_skips=settings.detect_still_max_skips,
            detect_still_max_change=settings.detect_still_max_change,
            detect_still_face_max_change=settings.detect_still_face_max_change,
            face_refreshes_per_frame=settings.face_refreshes_per_frame,
            iris_refreshes_per_frame=settings.iris_refreshes_per_frame,
            on_screen_max_horizontal_deg=settings.gaze_on_screen_max_horizontal_deg,
            on_screen_max_vertical_deg=settings.gaze_on_screen_max_vertical_deg,
            model_versions=tuple(spec.version for spec in models.specs.values()),
        )

    def analyze(self, frame: Frame) -> FaceAnalysis:
        started = time.perf_counter()
        call, t = self._calls, frame.t_mono
        self._calls += 1
        timings: dict[str, float] = {}
        faces = list(self._faces)
        detected_now: set[int] = set()
        if self._detect_next or call % self._detect_every == 0:
            thumbnails = still_thumbnails(frame.image) if self._still_skips else None
            still = thumbnails is not None and self._still(thumbnails, faces, frame)
            checked = time.perf_counter()
            if thumbnails is not None:
                timings["still_check"] = (checked - started) * 1e3
            if still:
                self._skipped += 1
                self.detections_skipped += 1
            else:
                faces, detected_now = self._detect(frame, faces)
                self._skipped = 0
                self._still_boxes = np.array([face.box for face in faces], np.float32).reshape(-1, 4)
                if thumbnails is not None:
                    width = frame.image.shape[1]
                    self._still_reference = thumbnails[0]
                    self._still_looks = [face_look(thumbnails[1], box, width) for box in self._still_boxes]
                timings["detect"] = (time.perf_counter() - checked) * 1e3
        self._detect_next = False
        faces = self._refresh(frame, call, faces, detected_now, timings)
        self._faces = tuple(faces)
        carried = [face.carried(t) for face in faces]
        n = len(faces)
        detections = FaceDetections(
            np.array([box for box, _ in carried], np.float32).reshape(n, 4),
            np.array([face.score for face in faces], np.float32),
            np.array([points for _, points in carried], np.float32).reshape(n, 5, 2),
        )
        poses = np.array([face.head_pose for face in faces], np.float32).reshape(n, 3)
        gaze = np.array([face.gaze for face in faces], np.float32).reshape(n, 2)
        timings["total"] = (time.perf_counter() - started) * 1e3
        return FaceAnalysis(
            frame_index=frame.index,
            t_mono=t,
            detections=detections,
            head_pose=poses,
            facing=facing(poses, self._max_yaw, self._max_pitch),
            mesh_scores=np.array([face.mesh_score for face in faces], np.float32),
            model_versions=self.model_versions,
            timings_ms=timings,
            gaze=gaze,
            on_screen=on_screen(gaze, self._on_screen_h, self._on_screen_v),
        )

    def _iris_turns(self, refreshed: list[FollowedFace], facing_now: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        """Which of the refreshed faces that face the screen get their irises measured: at most the iris budget, the
        stalest eye measurement first, a face whose gaze was last on the screen (or never measured) counting as
        ATTENTIVE_PRIORITY_FRAMES staler."""
        if len(facing_now) <= self._iris_refreshes:
            return facing_now

        def staleness(k: int) -> int:
            face = refreshed[k]
            attentive = face.irises_at < 0 or bool(on_screen(face.gaze[None], self._on_screen_h, self._on_screen_v)[0])
            return -face.irises_at + (ATTENTIVE_PRIORITY_FRAMES if attentive else 0)

        ranked = sorted(facing_now.tolist(), key=staleness, reverse=True)
        return np.array(sorted(ranked[: self._iris_refreshes]), np.intp)

    def ages(self) -> tuple[int, int]:
        """How current the last result is, in frames: the oldest head pose among the followed faces, and the oldest
        eye measurement among those that face the screen (0: measured on the last frame; -1: no such face)."""
        last = self._calls - 1
        pose = max((last - face.refreshed_at for face in self._faces), default=-1)
        looking = [face for face in self._faces if facing(face.head_pose[None], self._max_yaw, self._max_pitch)[0]]
        eyes = max((last - face.irises_at for face in looking if face.irises_at >= 0), default=-1)
        return pose, eyes

    def _still(
        self, thumbnails: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]], faces: list[FollowedFace], frame: Frame
    ) -> bool:
        """Whether this frame may go without detection: skips left, the last detection found no new face, every
        followed face has a head pose and looks as it did at that detection where its motion carried it, and
        nothing changed outside the followed faces since then."""
        reference = self._still_reference
        thumbnail, fine = thumbnails
        if reference is None or reference.shape != thumbnail.shape or self._skipped >= self._still_skips:
            return False
        if not self._settled or any(face.refreshed_at < 0 for face in faces):
            return False
        if len(faces) != len(self._still_looks):
            return False
        width = frame.image.shape[1]
        now = np.array([face.carried(frame.t_mono)[0] for face in faces], np.float32).reshape(-1, 4)
        for box, look in zip(now, self._still_looks, strict=True):
            # each face looks as it did at the detection, where its motion carried it
            if not float(np.mean(np.abs(face_look(fine, box, width) - look))) <= self._still_face_change:
                return False
        boxes = np.concatenate([self._still_boxes, now])
        return still_change(thumbnail, reference, boxes, width) <= self._still_change

    def _detect(self, frame: Frame, faces: list[FollowedFace]) -> tuple[list[FollowedFace], set[int]]:
        """Detections replace the followed faces: matched ones keep their state, the rest are new or dropped.
        Notes whether the scene is settled (every detection matched a followed face and every followed face a
        detection), the first condition for skipping the next detections."""
        found = self._detector.detect(frame)
        predicted = np.array([face.carried(frame.t_mono)[0] for face in faces], np.float32).reshape(-1, 4)
        matches = match_boxes(predicted, found.boxes)
        result = []
        for j in range(len(found)):
            box, points, score = found.boxes[j], found.landmarks[j], float(found.scores[j])
            if j in matches:
                face = faces[matches[j]].measured(box, points, frame.t_mono)
                result.append(dataclasses.replace(face, score=score))
            else:
                result.append(_new_face(box, points, score, frame.t_mono))
        self._settled = len(matches) == len(found) == len(faces)
        return result, set(range(len(result)))

    def _refresh(
        self, frame: Frame, call: int, faces: list[FollowedFace], detected_now: set[int], timings: dict[str, float]
    ) -> list[FollowedFace]:
        """Face mesh, head pose and (for faces that face the screen) irises on the faces whose turn it is."""
        new = [i for i, face in enumerate(faces) if face.refreshed_at < 0]
        stalest = sorted(
            (i for i, face in enumerate(faces) if face.refreshed_at >= 0), key=lambda i: faces[i].refreshed_at
        )
        chosen = new + stalest[: max(0, self._refreshes - len(new))]
        if not chosen:
            return faces
        t = frame.t_mono
        started = time.perf_counter()
        carried = [faces[i].carried(t) for i in chosen]
        crops = FaceDetections(
            np.array([box for box, _ in carried], np.float32),
            np.array([faces[i].score for i in chosen], np.float32),
            np.array([points for _, points in carried], np.float32),
        )
        meshes = self._landmarker.landmark(frame, crops)
        meshed = time.perf_counter()
        poses = head_poses(meshes.points, meshes.scores, self._min_mesh_score)
        attentive = np.flatnonzero(facing(poses, self._max_yaw, self._max_pitch))
        posed = time.perf_counter()
        timings["landmarks"] = (meshed - started) * 1e3
        timings["head_pose"] = (posed - meshed) * 1e3
        eyes = np.array([faces[i].eyes for i in chosen], np.float32).reshape(len(chosen), 2)
        measured = self._iris_turns([faces[i] for i in chosen], attentive) if self._irises else attentive[:0]
        if self._irises is not None and measured.size:
            irises = self._irises.locate(frame, meshes.points[measured])
            eyes[measured] = eye_in_head(irises.centres, irises.corners)
            timings["iris"] = (time.perf_counter() - posed) * 1e3
        # gaze = head pose + eyes in the head: the fresh pose with the last eye measurement where it is not fresh
        gaze = np.full((len(chosen), 2), np.nan, np.float32)
        gaze[attentive] = gaze_angles(poses[attentive], eyes[attentive])
        measured_now = set(measured.tolist())
        lost: set[int] = set()
        for k, i in enumerate(chosen):
            face, mesh = faces[i], meshes.points[k]
            if np.isnan(poses[k, 0]):
                if i not in detected_now:  # no face in the region any more: let the detector look again
                    lost.add(i)
                    continue
                # the detector's word stands this frame; the face's pose is unknown
                faces[i] = dataclasses.replace(
                    face, head_pose=poses[k].copy(), mesh_score=float(meshes.scores[k]), refreshed_at=call
                )
                continue
            if i in detected_now:
                face = dataclasses.replace(face, box_in_mesh=box_in_mesh(face.box, mesh))
            elif face.box_in_mesh is not None:
                face = face.measured(box_from_mesh(face.box_in_mesh, mesh), five_points_from_mesh(mesh), t)
            faces[i] = dataclasses.replace(
                face,
                head_pose=poses[k].copy(),
                mesh_score=float(meshes.scores[k]),
                gaze=gaze[k].copy(),
                eyes=eyes[k].copy(),
                refreshed_at=call,
                irises_at=call if k in measured_now else face.irises_at,
            )
        if lost:
            self._detect_next = True
        return [face for i, face in enumerate(faces) if i not in lost]

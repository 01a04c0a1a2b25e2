"""[perception]: the ONNX models that find faces and estimate where they look."""

from __future__ import annotations

from pydantic import Field

from signage.config.base import Section


class PerceptionConfig(Section):
    models_dir: str = Field(
        default="",
        description="Folder with manifest.json and the ONNX files; empty = the models/ folder shipped with signage.",
    )
    intra_op_threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime threads per model call (the other core drives the player)."
    )
    detect_width: int = Field(
        default=320,
        ge=64,
        le=1920,
        description="Frames are scaled to this width for face detection (height follows, padded to a multiple of 32).",
    )
    score_threshold: float = Field(default=0.6, gt=0, lt=1, description="Least detector score for a face to count.")
    nms_iou_threshold: float = Field(
        default=0.3, gt=0, lt=1, description="Overlapping detections above this IoU are merged into the best one."
    )
    max_faces: int = Field(default=32, ge=1, le=1000, description="Most faces kept per frame (highest scores first).")
    min_face_px: float = Field(
        default=16.0, ge=0, le=1000, description="Faces smaller than this (box height in frame pixels) are ignored."
    )
    landmarks: bool = Field(
        default=True, description="Run the face-landmark model on each face for head pose (yaw, pitch, roll)."
    )
    min_landmark_score: float = Field(
        default=0.5, ge=0, le=1, description="Below this landmark-model face score, head pose is unknown (NaN)."
    )
    gaze: bool = Field(
        default=True,
        description="Run the iris model for gaze (needs landmarks); the scheduler runs it only on faces that face "
        "the screen.",
    )
    gaze_on_screen_max_horizontal_deg: float = Field(
        default=20.0, ge=1, le=90, description="A gaze is on screen when |horizontal| is at most this ..."
    )
    gaze_on_screen_max_vertical_deg: float = Field(
        default=15.0, ge=1, le=90, description="... and |vertical| is at most this (degrees from the camera axis)."
    )
    detect_every_n_frames: int = Field(
        default=1,
        ge=1,
        le=60,
        description="Run face detection on every Nth frame (and at once when a followed face is lost); in between, "
        "faces are followed from their previous region of interest. 1 by default: detection costs the same for any "
        "number of faces, and boxes carried between detections lost recall on fast-moving test clips; still frames "
        "skip it instead (detect_still_max_skips).",
    )
    detect_still_max_skips: int = Field(
        default=2,
        ge=0,
        le=30,
        description="While the picture outside the followed faces stays still since the last face detection (which "
        "found no new face), up to this many frames in a row go without detection; the followed faces are "
        "re-measured by their landmarks and carried by their motion. 0: detect on every frame the cadence says.",
    )
    detect_still_max_change: float = Field(
        default=12.0,
        ge=0,
        le=255,
        description="A frame is still when no cell of a small grey thumbnail (means of about 4x4 pixels at 640x480) "
        "outside the followed faces changed by more than this many grey levels since the last detection ...",
    )
    detect_still_face_max_change: float = Field(
        default=8.0,
        ge=0,
        le=255,
        description="... and each followed face, where its motion carried it, looks as it did at that detection: "
        "the means of an 8x8 grid over its box changed by at most this many grey levels on average (a face that "
        "left or was replaced measured 17 or more on the test clips, the same face 4 at the median).",
    )
    face_refreshes_per_frame: int = Field(
        default=2,
        ge=1,
        le=64,
        description="At most this many tracked faces get fresh landmarks (and irises when facing) per frame, the "
        "stalest first; new faces always do. The others keep their last values, their boxes carried by their motion.",
    )
    iris_refreshes_per_frame: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Of the faces refreshed in a frame, at most this many that face the screen get their irises "
        "measured (two iris-model calls each), the stalest first, attentive faces (gaze on the screen) before others; "
        "the rest keep their last eye measurement, added to their fresh head pose. 1: the engine's cost at 6 faces is "
        "about a third of the naive schedule's (2: about 40%), each of 6 attentive faces measured every ~6 frames.",
    )
    age_min_confidence: float = Field(
        default=0.45,
        ge=0,
        le=1,
        description="Below this share of the age model's probability in one band, the age band is unknown.",
    )
    gender_min_confidence: float = Field(
        default=0.75, ge=0.5, le=1, description="Below this gender-model probability, gender is unknown."
    )
    mood_min_confidence: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Below this share of the expression model's probability in one mood band, mood is unknown.",
    )
    reid_enabled: bool = Field(
        default=True,
        description="Re-identify returning viewers with face embeddings (RAM only). Off: no embedding is computed, "
        "the re-id model is not loaded, and each track counts as its own visit.",
    )
    reid_match_similarity: float = Field(
        default=0.925,
        gt=-1,
        lt=1,
        # dlib's descriptors: same person under Euclidean 0.6, about cosine 0.91 at their usual length (1.3-1.5); on
        # the test portraits the same person measured >= 0.976 and others <= 0.906, so a little stricter than dlib.
        description="Least cosine similarity of two face embeddings (dlib's 128-d descriptors) for them to count as "
        "the same person.",
    )
    reid_ttl_s: float = Field(
        default=1800.0,
        gt=0,
        le=86400,
        description="Re-identification embeddings are forgotten this long after the person was last seen "
        "(RAM only, never written or sent).",
    )
    bodies: bool = Field(
        default=True,
        description="Run the body-pose model (MoveNet MultiPose) so people whose face is not seen (back turned, "
        "walking past) are tracked and counted as passers-by.",
    )
    body_every_n_frames: int = Field(
        default=5,
        ge=1,
        le=120,
        description="Run body detection on every Nth frame (one run costs about 7 face detections); in between, "
        "the faceless bodies of the last run are carried forward at their measured speed.",
    )
    body_input_long_side: int = Field(
        default=256,
        ge=128,
        le=512,
        multiple_of=32,
        description="Frames are scaled so their longer side is this for body detection (256 is the model's own).",
    )
    body_min_score: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="Least person score for a body to count (bodies with hidden faces score 0.2-0.5, blank and "
        "textured frames below 0.02).",
    )
    body_keypoint_min_score: float = Field(
        default=0.3,
        gt=0,
        lt=1,
        description="Least keypoint score for a body keypoint to count as seen (for facing, back turned and the "
        "face-on-body check).",
    )
    body_face_min_score: float = Field(
        default=0.52,
        gt=0,
        lt=1,
        description="Least mean score of a body's nose and eye keypoints for its face to count as seen (facing vs "
        "back turned: the model guesses face points on the back of a head at lower scores).",
    )

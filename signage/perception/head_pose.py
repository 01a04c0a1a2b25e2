"""Head pose (yaw, pitch, roll in degrees) from the 3D face mesh, and the facing-the-screen decision.

The face mesh gives every point as x, y in pixels and z, a relative depth in the same scale. The head's rotation is
read by fitting a canonical face (CANONICAL: 170 stable points of the mesh, no face outline, lips or jaw) to the
mesh, in two parts because the model's two kinds of output are not equally good:
- the image's y axis and the depth come from a 3-D similarity fit (Kabsch/Umeyama) of the canonical to the mesh's
  x, y, z: the model's depth follows a nod well, but a turn at only ~0.73 of its angle;
- the image's x axis comes from a linear fit of the mesh's x alone to the canonical (X_ROW_POINTS: eye corners,
  nose, brows, forehead, cheekbones): the model's x positions follow a turn at ~0.9-0.95 of its angle.
About 60 us for one face, 150 us for six (fitted all at once). Measured on heads rendered from the three frontal
test portraits' own meshes at known angles (signage.perception.clips.render_head, tests/test_head_pose.py): yaw
within +-45 deg read at 0.89 of the angle (least-squares slope), worst error 8.5 deg (7.2 within +-30); pitch within
+-20 at 0.93, worst 6.7; the same on faces 38-83 px tall. Heads given MediaPipe's canonical proportions (the
model's depth is ~0.88 of that; clips.HEAD_DEPTH_SCALE) read yaw at 0.95 (worst 6.5) and pitch at 1.04 (worst 6.9).
The previous estimator (axes through the cheek edges 234-454 and forehead-chin 10-152, points that slide along the
silhouette as the head turns) read the same yaws at 0.72 and 0.77 (worst errors 15.5 and 13.9 deg); its pitch was
about as good (0.99 and 1.10, worst 6.2 and 9.2).

The canonical is the mean shape of the four test portraits and their mirror images (canonical_shape; a test derives
it again): the mirror images make it symmetric, so yaw 0 and roll 0 are exact; pitch 0 is MediaPipe's (the forehead
to chin line upright), which reads the portraits as nodded 4-16 deg down, as before (their eyes look up into the
camera; gaze.py adds the two). A fit of six points to the usual generic anthropometric face was tried first and read
frontal portraits as 16-35 deg pitched down (that model's nose sits higher than MediaPipe's).

Conventions (the camera looks at the person; the screen is next to the camera):
- yaw > 0: the face turns towards the image's right (the person's left); a mirrored image flips its sign.
- pitch > 0: the face tilts up.
- roll > 0: the head tilts clockwise as the image is seen (the person's left eye lower than their right).
All three are 0 for a face looking straight into the camera.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from signage.types import BoolArray, FloatArray

# Mesh points of the canonical face: everything but the outline, lips and jaw, thinned to a third, closed under the
# mirror pairing (a point's mirror twin is in too).
POSE_POINTS = (1, 4, 5, 6, 7, 9, 19, 20, 23, 24, 26, 27, 29, 30, 33, 34, 36, 44, 46, 47, 49, 50, 52, 53, 56, 57,
    62, 63, 65, 66, 69, 70, 73, 76, 79, 97, 98, 100, 104, 105, 107, 108, 112, 115, 116, 117, 118, 121, 123, 124,
    128, 131, 133, 137, 141, 142, 143, 144, 145, 151, 153, 156, 159, 163, 166, 167, 168, 173, 177, 186, 189, 193,
    195, 197, 203, 205, 207, 209, 213, 216, 219, 222, 225, 228, 231, 235, 238, 241, 244, 247, 249, 250, 253, 254,
    256, 257, 259, 260, 263, 264, 266, 274, 276, 277, 279, 280, 282, 283, 286, 287, 292, 293, 295, 296, 299, 300,
    303, 306, 309, 326, 327, 329, 333, 334, 336, 337, 341, 344, 345, 346, 347, 350, 352, 353, 357, 360, 362, 366,
    370, 371, 372, 373, 374, 380, 383, 386, 390, 392, 393, 398, 401, 410, 413, 417, 423, 425, 427, 429, 433, 436,
    439, 442, 445, 448, 451, 455, 458, 461, 464, 467)  # fmt: skip
# The points whose image x gives the turn: eye corners, nose ridge and tip, nostrils, brows, forehead, cheekbones.
X_ROW_POINTS = (1, 4, 5, 6, 9, 33, 46, 50, 63, 66, 70, 98, 105, 107, 108, 116, 117, 118, 123, 133, 143, 151, 168,
    195, 197, 263, 276, 280, 293, 296, 300, 327, 334, 336, 337, 345, 346, 347, 352, 362, 372)  # fmt: skip
FOREHEAD, CHIN = 10, 152
CANONICAL_RMS = 1000.0  # CANONICAL's size: root-mean-square distance of its points from their centroid

# canonical_shape() of the four test portraits and their mirror images (tests/test_head_pose.py re-derives it), in
# POSE_POINTS order: x right, y down, z away from the camera.
# fmt: off
CANONICAL = np.array([
      -11,  466, -738,     -9,  319, -768,     -8,  132, -698,     -2, -287, -306,   -933, -271,  234,
        6, -772, -206,    -11,  543, -676,   -143,  549, -487,   -671, -175,  101,   -802, -174,  135,
     -435, -210,  108,   -741, -487,   69,   -869, -459,  109,   -956, -410,  157,   -988, -293,  276,
    -1481, -107,  893,   -685,  354,  -77,   -125,  462, -726,  -1160, -533,  188,   -400,   27,  -74,
     -451,  346, -331,  -1081,  336,   98,   -845, -696,  -30,  -1030, -639,   66,   -475, -440,  108,
     -773, 1026,  102,   -593, 1023,   67,  -1106, -720,  136,   -595, -699, -103,   -622, -817, -124,
     -681,-1098,    7,  -1242, -582,  304,   -356,  944, -263,   -625, 1022,   83,   -275,  467, -529,
     -194,  621, -359,   -418,  564, -213,   -537,   99,  -31,   -993,-1014,  173,   -896, -804,    1,
     -311, -797, -188,   -359,-1124,  -87,   -370, -236,  127,   -359,  374, -514,  -1375,   80,  518,
    -1141,   36,  255,   -972,   65,  133,   -397,  -65,   11,  -1370,  343,  465,  -1210, -375,  321,
     -298, -132,   -8,   -360,  283, -453,   -379, -277,  162,  -1482,  465,  927,    -67,  588, -487,
     -521,  250,  -96,  -1354, -148,  570,   -789, -250,  155,   -672, -247,  123,      9,-1121, -118,
     -563, -255,  117,  -1307, -388,  455,   -727, -419,  112,   -872, -259,  196,   -355,  488, -392,
     -211,  714, -345,      0, -438, -197,   -417, -316,  146,  -1446,  758,  891,   -726,  905,   -2,
     -276, -376,   73,   -168, -404, -104,     -5,  -10, -560,     -3, -142, -430,   -601,  530,  -86,
     -908,  509,  -27,  -1026,  731,   83,   -401,  253, -229,  -1328,  862,  532,   -848,  815,   21,
     -410,  468, -402,   -590, -550,   18,  -1042, -467,  157,  -1013,  -88,  240,   -531,  -99,   86,
     -409,  501, -336,   -149,  516, -608,   -123,  528, -646,   -259, -248,   57,  -1021, -354,  229,
      941, -262,  237,    122,  550, -486,    674, -168,  104,    806, -166,  138,    435, -205,  109,
      751, -481,   73,    880, -452,  113,    966, -401,  161,    996, -284,  280,   1490,  -95,  901,
      679,  361,  -74,    104,  462, -725,   1176, -524,  192,    395,   32,  -72,    437,  351, -329,
     1080,  345,  102,    863, -688,  -26,   1047, -631,   70,    482, -435,  110,    769, 1033,  103,
      592, 1027,   66,   1126, -711,  140,    612, -692, -100,    641, -811, -120,    703,-1092,   11,
     1261, -571,  309,    346,  948, -263,    624, 1028,   83,    255,  470, -528,    176,  623, -359,
      404,  569, -213,    534,  105,  -28,   1017,-1005,  178,    915, -797,    5,    328, -793, -186,
      379,-1120,  -84,    372, -231,  127,    341,  378, -513,   1378,   91,  523,   1144,   45,  260,
      974,   73,  137,    394,  -61,   13,   1368,  355,  472,   1223, -366,  326,    296, -128,   -6,
      345,  286, -452,    382, -272,  164,   1478,  477,  935,     45,  589, -487,    513,  255,  -94,
     1363, -138,  577,    795, -241,  158,    676, -239,  126,    566, -249,  119,   1321, -379,  461,
      733, -413,  115,    879, -250,  200,    337,  492, -390,    197,  716, -345,    420, -311,  147,
     1436,  771,  900,    721,  911,   -1,    280, -372,   74,    169, -402, -104,    590,  536,  -85,
      904,  517,  -25,   1021,  740,   85,    389,  258, -227,   1318,  876,  538,    842,  823,   21,
      393,  473, -401,    602, -544,   22,   1055, -458,  162,   1017,  -80,  244,    530,  -94,   88,
      393,  506, -335,    127,  517, -609,    102,  528, -646,    260, -244,   58,   1031, -346,  233,
], np.float64).reshape(-1, 3)
# fmt: on
CANONICAL.setflags(write=False)


def rotation_from_angles(yaw_deg: float, pitch_deg: float, roll_deg: float) -> npt.NDArray[np.float64]:
    """The rotation (face to camera axes) for angles in this module's convention: R = Rz(roll) Ry(-yaw) Rx(-pitch)."""
    y, p, r = (math.radians(v) for v in (-yaw_deg, -pitch_deg, roll_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    result: npt.NDArray[np.float64] = rz @ ry @ rx
    return result


def angles_from_rotation(rotation: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """Inverse of rotation_from_angles: (yaw, pitch, roll) in degrees."""
    y = math.asin(max(-1.0, min(1.0, -rotation[2, 0])))
    p = math.atan2(rotation[2, 1], rotation[2, 2])
    r = math.atan2(rotation[1, 0], rotation[0, 0])
    return -math.degrees(y), -math.degrees(p), math.degrees(r)


def _similarity_rotation(source: npt.NDArray[np.float64], target: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The rotation R of the least-squares fit target ~ s R source + t (Kabsch/Umeyama, no reflection); both are
    already centred."""
    u, _, vt = np.linalg.svd(target.T @ source)
    if np.linalg.det(u @ vt) < 0:
        u[:, 2] = -u[:, 2]
    result: npt.NDArray[np.float64] = u @ vt
    return result


def canonical_shape(meshes: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float64]:
    """The mean shape (len(POSE_POINTS), 3) of frontal face meshes (468, 3), centred, CANONICAL_RMS in size.

    Generalised Procrustes: each mesh is fitted to the running mean until it settles. The mean is then turned to the
    plain (unrotated) average of the meshes: give every mesh with its mirror image (the mesh of the mirrored photo)
    and that average is symmetric, so yaw and roll are 0 exactly. Last, it is nodded so that the line from the top
    of the forehead to the chin (mesh points 10 and 152, carried along by each mesh's fit) lies in the image plane,
    as in MediaPipe's canonical face model: pitch 0 is that model's, not the photos' own.
    """
    rows = list(POSE_POINTS)
    shapes, ends = [], []
    for mesh in meshes:
        points = np.asarray(mesh, np.float64)
        centre = points[rows].mean(axis=0)
        scale = CANONICAL_RMS / math.sqrt(float(((points[rows] - centre) ** 2).sum(axis=1).mean()))
        shapes.append((points[rows] - centre) * scale)
        ends.append((points[[FOREHEAD, CHIN]] - centre) * scale)
    plain = np.mean(shapes, axis=0)
    mean = shapes[0]
    for _ in range(10):
        mean = np.mean([shape @ _similarity_rotation(shape, mean).T for shape in shapes], axis=0)
        mean *= CANONICAL_RMS / math.sqrt(float((mean**2).sum(axis=1).mean()))
    mean = mean @ _similarity_rotation(mean, plain).T
    forehead, chin = np.mean([e @ _similarity_rotation(s, mean).T for s, e in zip(shapes, ends, strict=True)], axis=0)
    down = chin - forehead
    nod = math.atan2(down[2], down[1])  # turn about x that brings the forehead-chin line to z = 0
    c, s = math.cos(nod), math.sin(nod)
    result: npt.NDArray[np.float64] = mean @ np.array([[1, 0, 0], [0, c, s], [0, -s, c]]).T
    return result


_POSE_ROWS = np.array(POSE_POINTS)
_X_ROWS = np.array([POSE_POINTS.index(i) for i in X_ROW_POINTS])
_POSE_ROWS.setflags(write=False)
_X_ROWS.setflags(write=False)


def _x_row_solver(canonical: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(3, len(X_ROW_POINTS)): maps the centred image x of those points to the fitted x row (least squares)."""
    points = canonical[_X_ROWS] - canonical[_X_ROWS].mean(axis=0)
    result: npt.NDArray[np.float64] = np.linalg.pinv(points)
    return result


_X_ROW_SOLVER = _x_row_solver(CANONICAL)
_X_ROW_SOLVER.setflags(write=False)


def _poses(meshes: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """(N, 3) yaw, pitch, roll in degrees for meshes (N, 468, 3), all at once; NaN for a degenerate mesh."""
    points = np.asarray(meshes)[:, _POSE_ROWS].astype(np.float64)
    points -= points.mean(axis=1, keepdims=True)
    finite = np.isfinite(points).all(axis=(1, 2))
    points[~finite] = 0.0
    # the 3-D fit: rotation u @ vt of the cross-covariance (Kabsch), no reflection
    u, _, vt = np.linalg.svd(np.swapaxes(points, 1, 2) @ CANONICAL)
    u[np.linalg.det(u) * np.linalg.det(vt) < 0, :, 2] *= -1
    fitted = u @ vt
    # the image x row from the mesh's x alone
    image_x = points[:, _X_ROWS, 0]
    x_row = (image_x - image_x.mean(axis=1, keepdims=True)) @ _X_ROW_SOLVER.T
    with np.errstate(invalid="ignore", divide="ignore"):
        x_row /= np.linalg.norm(x_row, axis=1, keepdims=True)
        y_row = fitted[:, 1] - x_row * np.sum(fitted[:, 1] * x_row, axis=1, keepdims=True)
        y_norm = np.linalg.norm(y_row, axis=1, keepdims=True)
        y_row /= y_norm
    (x0, x1, x2), (y0, y1, y2) = x_row.T, y_row.T
    # angles_from_rotation on the rows x, y and z = x cross y
    yaw = -np.degrees(np.arcsin(np.clip(x2 * y1 - x1 * y2, -1.0, 1.0)))
    pitch = -np.degrees(np.arctan2(x2 * y0 - x0 * y2, x0 * y1 - x1 * y0))
    roll = np.degrees(np.arctan2(y_row[:, 0], x_row[:, 0]))
    result: npt.NDArray[np.float64] = np.stack([yaw, pitch, roll], axis=1)
    spread = np.abs(points[:, :, :2]).max(axis=(1, 2))
    result[~finite | ~np.isfinite(result).all(axis=1) | ~(spread >= 1e-6) | ~(y_norm[:, 0] >= 1e-6)] = np.nan
    return result


def head_pose(mesh: npt.NDArray[np.float32]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from one face mesh (468, 3)."""
    yaw, pitch, roll = (float(v) for v in _poses(np.asarray(mesh)[None])[0])
    return yaw, pitch, roll


def head_poses(mesh_points: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], min_score: float) -> FloatArray:
    """(N, 3) yaw, pitch, roll for each mesh; NaN where the mesh score is below min_score."""
    poses = np.full((len(mesh_points), 3), np.nan, np.float32)
    good = np.flatnonzero(np.asarray(scores) >= min_score)
    if good.size:
        poses[good] = _poses(np.asarray(mesh_points)[good])
    return poses


def facing(poses: npt.NDArray[np.float32], max_yaw_deg: float, max_pitch_deg: float) -> BoolArray:
    """True where the face is turned to the screen within both angles (NaN, an unknown pose, is not facing)."""
    with np.errstate(invalid="ignore"):
        result: BoolArray = (np.abs(poses[:, 0]) <= max_yaw_deg) & (np.abs(poses[:, 1]) <= max_pitch_deg)
    return result

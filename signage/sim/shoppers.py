"""Shoppers: who they are (true attributes, hidden tastes), how they come in groups, and where the camera sees them.

A `Shopper` is a person who may visit more than once (returning visitors keep their tastes and true attributes).
A `Group` is one visit of one or more shoppers who walk together; each `Member` is one shopper in that visit, with
the per-visit physical parameters (depth, offset, gait, head habits) and the behaviour state the store updates.

Geometry: the aisle runs along x (0 .. field width, metres) in front of the screen, the camera sits on the screen,
x = 0 is the left edge of the image. Depth is the distance from the screen. A body box is centred at
x / width * 640 pixels, its height is FOCAL_PX * body height / depth, its foot line rises as depth grows; boxes are
clipped to the 640x480 image.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from signage.sim.gaze import WatcherGaze
from signage.sim.tastes import TasteModel, Vector
from signage.sim.truth import VisitRecord, WatchRecord
from signage.types import AgeBand, Attributes, ContentItem, Gender, Mood

IMAGE_W = 640.0
IMAGE_H = 480.0
FOCAL_PX = 420.0
NEAR_DEPTH_M = 1.5
WALK_DEPTH_M = (2.0, 5.0)  # depth range of people crossing
APPROACH_FROM_M = 7.0  # approaching people appear at this depth
MAX_DEPTH_M = 7.5  # beyond this the camera no longer tracks anyone

AGE_BANDS = (AgeBand.CHILD, AgeBand.TEEN, AgeBand.YOUNG_ADULT, AgeBand.ADULT, AgeBand.SENIOR)
YOUNG_LOOKING = frozenset({AgeBand.CHILD, AgeBand.TEEN, AgeBand.YOUNG_ADULT})
_AGE_WEIGHTS = {
    "solo": (0.0, 0.10, 0.30, 0.42, 0.18),
    "leader": (0.0, 0.05, 0.30, 0.47, 0.18),
    "companion": (0.30, 0.15, 0.15, 0.28, 0.12),
}
_HEIGHT_M = {AgeBand.CHILD: 1.25, AgeBand.TEEN: 1.62}
GENDERS = (Gender.FEMALE, Gender.MALE)
MOODS = (Mood.POSITIVE, Mood.NEUTRAL, Mood.NEGATIVE)
_MOOD_WEIGHTS = (0.30, 0.55, 0.15)


class Mode(enum.Enum):
    """How a group moves."""

    WALK = "walk"  # crossing the view along x
    APPROACH = "approach"  # coming towards the screen (depth falls), then turning to cross
    STAND = "stand"  # stopped because someone watches
    LEAVE = "leave"  # walking away from the screen, backs turned (depth grows)


@dataclass(eq=False)
class Shopper:
    shopper_id: int
    age_band: AgeBand
    gender: Gender
    mood: Mood
    height_m: float
    tastes: Vector
    visits_seen: int = 0  # visits on which the camera saw this shopper
    last_seen_mono: float = -math.inf  # when the camera last lost sight of this shopper
    reid_key: str = ""  # the anonymous key re-identification enrolled for this shopper (a new one once forgotten)
    relevance_cache: dict[ContentItem, tuple[int, float]] = field(default_factory=dict)  # item → (drift epoch, r)
    watched: dict[str, int] = field(default_factory=dict)  # item id → times noticed and watched, over all visits

    @property
    def true_attributes(self) -> Attributes:
        return Attributes(self.age_band, 1.0, self.gender, 1.0, self.mood, 1.0)


@dataclass(eq=False)
class Member:
    """One shopper in one visit: per-visit physical parameters and the behaviour state."""

    shopper: Shopper
    offset_x: float  # metres from the group's x
    depth_offset: float  # metres from the group's depth
    walk_yaw: float  # |yaw| while walking sideways, degrees
    face_hidden_walking: bool  # head turned too far while walking: no face seen
    approach_yaw: float  # yaw while approaching
    wait_yaw: float  # yaw while standing, waiting for someone who watches
    observed: Attributes  # what perception reports for this track
    u_reid: float  # the uniform that decides whether re-identification flags this track as returning
    returning: bool = False  # set on entering: the camera saw this shopper on an earlier visit
    flagged_returning: bool = False  # set on entering: what re-identification says
    visit: VisitRecord | None = None  # set on the first tick in view
    row: tuple[int, bool, int, Attributes, str] = (0, False, -1, Attributes(), "")  # track id, returning, group,
    # attributes, re-identification key
    gone: bool = False
    episode: WatchRecord | None = None  # the watching episode now running
    watch_until: float = 0.0
    off_yaw: float = 0.0
    off_pitch: float = 0.0
    away_until: float = 0.0  # glancing away after watching, until then
    away_yaw: float = 0.0
    refractory_until: float = 0.0  # no new noticing until then
    glance_until: float = 0.0  # a brief look at the screen without noticing, until then
    glance_yaw: float = 0.0
    gaze: WatcherGaze | None = None  # while watching: where the eyes go (reading or looking the picture over)


@dataclass(eq=False)
class Group:
    members: list[Member]
    group_id: int  # -1 for one person alone
    arrived_mono: float
    mode: Mode
    x: float
    depth: float
    direction: int  # +1 left to right in the image, -1 right to left
    speed: float  # m/s
    near_depth: float  # where an approach ends
    turn_direction: int  # crossing direction after an approach
    leaves_after_stop: bool  # after a stop, walk away from the screen instead of crossing on
    resume_mode: Mode = Mode.WALK


def body_box(
    x_m: float, depth_m: float, height_m: float, width_m: float, jitter_x: float = 0.0, jitter_y: float = 0.0
) -> tuple[float, float, float, float]:
    """The body box (x1, y1, x2, y2) in pixels, moved by the jitter and clipped to the image (at least 1 px)."""
    cx = x_m * (IMAGE_W / width_m) + jitter_x
    h = FOCAL_PX * height_m / depth_m
    half = 0.21 * h
    y2 = 470.0 - 60.0 * (depth_m - NEAR_DEPTH_M) + jitter_y
    x1 = cx - half
    x1 = 0.0 if x1 < 0.0 else IMAGE_W - 1.0 if x1 > IMAGE_W - 1.0 else x1
    x2 = cx + half
    x2 = x1 + 1.0 if x2 < x1 + 1.0 else IMAGE_W if x2 > IMAGE_W else x2
    y2 = 1.0 if y2 < 1.0 else IMAGE_H if y2 > IMAGE_H else y2
    y1 = y2 - h
    y1 = 0.0 if y1 < 0.0 else y1
    y1 = y2 - 1.0 if y1 > y2 - 1.0 else y1
    return x1, y1, x2, y2


class Population:
    """Draws new shoppers and what perception will make of them, from the population random stream."""

    def __init__(
        self,
        rng: np.random.Generator,
        tastes: TasteModel,
        *,
        attribute_noise: float,
        unknown_age_share: float,
    ) -> None:
        self._rng = rng
        self._tastes = tastes
        self._attribute_noise = attribute_noise
        self._unknown_age_share = unknown_age_share
        self.shoppers: dict[int, Shopper] = {}

    def _choice(self, options: Sequence[AgeBand] | Sequence[Gender] | Sequence[Mood], p: Sequence[float]) -> int:
        weights = np.asarray(p, dtype=float)
        return int(self._rng.choice(len(options), p=weights / weights.sum()))

    def new_shopper(self, role: str) -> Shopper:
        rng = self._rng
        age = AGE_BANDS[self._choice(AGE_BANDS, _AGE_WEIGHTS[role])]
        gender = GENDERS[int(rng.integers(2))]
        mood = MOODS[self._choice(MOODS, _MOOD_WEIGHTS)]
        height = _HEIGHT_M.get(age, 1.72) + 0.07 * float(rng.standard_normal())
        shopper = Shopper(len(self.shoppers) + 1, age, gender, mood, height, self._tastes.draw(rng, age, gender))
        self.shoppers[shopper.shopper_id] = shopper
        return shopper

    def observe(self, shopper: Shopper, depth_m: float) -> Attributes:
        """Perception's once-per-track attributes: sometimes wrong (then less confident), less sure far away."""
        rng = self._rng
        noise = self._attribute_noise
        u_unknown, u_age, u_gender, u_mood = rng.random(4).tolist()
        c_age, c_gender, c_mood = rng.random(3).tolist()
        if shopper.age_band in YOUNG_LOOKING and u_unknown < self._unknown_age_share:
            age, age_conf = AgeBand.UNKNOWN, 0.0
        elif u_age < noise:
            i = AGE_BANDS.index(shopper.age_band)
            neighbours = [AGE_BANDS[j] for j in (i - 1, i + 1) if 0 <= j < len(AGE_BANDS)]
            others = [a for a in AGE_BANDS if a is not shopper.age_band]
            pool = neighbours if rng.random() < 0.8 else others
            age, age_conf = pool[int(rng.integers(len(pool)))], 0.30 + 0.40 * c_age
        else:
            age, age_conf = shopper.age_band, 0.60 + 0.35 * c_age
        if age is not AgeBand.UNKNOWN:
            age_conf *= min(1.0, max(0.5, 1.2 - 0.1 * depth_m))
        if u_gender < noise:
            gender = Gender.MALE if shopper.gender is Gender.FEMALE else Gender.FEMALE
            gender_conf = 0.50 + 0.30 * c_gender
        else:
            gender, gender_conf = shopper.gender, 0.70 + 0.29 * c_gender
        if u_mood < noise:
            others_mood = [m for m in MOODS if m is not shopper.mood]
            mood, mood_conf = others_mood[int(rng.integers(len(others_mood)))], 0.30 + 0.35 * c_mood
        else:
            mood, mood_conf = shopper.mood, 0.55 + 0.35 * c_mood
        return Attributes(age, age_conf, gender, gender_conf, mood, mood_conf)

    def new_group(
        self,
        shoppers: Sequence[Shopper],
        *,
        group_id: int,
        arrived_mono: float,
        width_m: float,
        speed_m_s: float,
        approach_share: float,
        leave_share: float,
    ) -> Group:
        """Place a group at the edge of the view (or far away, approaching) with per-visit parameters."""
        rng = self._rng
        approaching = bool(rng.random() < approach_share)
        direction = 1 if rng.random() < 0.5 else -1
        speed = speed_m_s * float(np.clip(rng.lognormal(0.0, 0.15), 0.5, 2.0))
        if any(s.age_band is AgeBand.CHILD for s in shoppers):
            speed *= 0.85
        depth = float(rng.uniform(*WALK_DEPTH_M))
        near = float(rng.uniform(1.8, 2.6))
        turn = 1 if rng.random() < 0.5 else -1
        leaves = bool(rng.random() < leave_share)
        if approaching:
            x = float(rng.uniform(0.25, 0.75)) * width_m
            mode, depth = Mode.APPROACH, APPROACH_FROM_M
        else:
            x = 0.0 if direction > 0 else width_m
            mode = Mode.WALK
        members: list[Member] = []
        for k, shopper in enumerate(shoppers):
            if k == 0:
                offset = 0.0
            elif approaching:
                side = 1.0 if k % 2 else -1.0
                offset = side * float(rng.uniform(0.3, 0.7))
                offset = min(max(x + offset, 0.05 * width_m), 0.95 * width_m) - x
            else:
                offset = -direction * float(rng.uniform(0.1, 0.9))
            depth_offset = 0.0 if k == 0 else float(rng.uniform(-0.4, 0.4))
            depth_offset = max(depth_offset, NEAR_DEPTH_M - min(depth, near))
            members.append(
                Member(
                    shopper=shopper,
                    offset_x=offset,
                    depth_offset=depth_offset,
                    walk_yaw=float(rng.uniform(50.0, 80.0)),
                    face_hidden_walking=bool(rng.random() < 0.12),
                    approach_yaw=float(rng.uniform(-45.0, 45.0)),
                    wait_yaw=float(rng.choice((-1.0, 1.0)) * rng.uniform(30.0, 60.0)),
                    observed=self.observe(shopper, depth + depth_offset),
                    u_reid=float(rng.random()),
                )
            )
        return Group(
            members=members,
            group_id=group_id,
            arrived_mono=arrived_mono,
            mode=mode,
            x=x,
            depth=depth,
            direction=direction,
            speed=speed,
            near_depth=near,
            turn_direction=turn,
            leaves_after_stop=leaves,
        )


class NoiseStream:
    """Buffered uniform and standard-normal draws from one generator: cheap per call, deterministic."""

    __slots__ = ("_rng", "_size", "_u", "_ui", "_z", "_zi")

    def __init__(self, rng: np.random.Generator, size: int = 4096) -> None:
        self._rng = rng
        self._size = size
        self._u: list[float] = []
        self._ui = 0
        self._z: list[float] = []
        self._zi = 0

    def u(self) -> float:
        if self._ui >= len(self._u):
            self._u = self._rng.random(self._size).tolist()
            self._ui = 0
        value = self._u[self._ui]
        self._ui += 1
        return value

    def pair(self) -> tuple[float, float]:
        i = self._ui
        if i + 2 > len(self._u):
            self._u = self._rng.random(self._size).tolist()
            i = 0
        self._ui = i + 2
        u = self._u
        return u[i], u[i + 1]

    def z(self) -> float:
        if self._zi >= len(self._z):
            self._z = self._rng.standard_normal(self._size).tolist()
            self._zi = 0
        value = self._z[self._zi]
        self._zi += 1
        return value


def clip(value: float, limit: float) -> float:
    return -limit if value < -limit else limit if value > limit else value


NAN = math.nan

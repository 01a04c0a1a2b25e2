"""The virtual store: simulated shoppers that stand in for camera + perception + tracking in `signage demo`.

`VirtualStore.step(t_mono, t_utc, showing)` returns, once per tick, the `Observation` the audience stage would get
from a real camera; `VirtualStore.truth()` returns what really happened (`SimTruth`), for tests and reports.

Semantics the audience stage can rely on:
- Track ids are positive ints, new for every visit (a returning shopper gets a new id), never reused. A person is
  in `Tracks` from the tick they come into view to the tick before they leave it, except ticks missed by the
  sensor (`detection_miss_rate`): the row is then absent and the same id comes back the next tick.
- Group ids: -1 for someone alone, else a positive id shared by the members of one group in one visit.
- Boxes: body boxes (x1, y1, x2, y2) in pixels of a 640x480 image, clipped to it, at least 1 px wide and high;
  x follows the aisle position, size and foot line follow the depth (1.5-7.5 m from the screen).
- Head pose: yaw, pitch, roll in degrees; yaw 0 faces the camera on the screen, crossing left to right turns yaw
  positive. NaN rows when no face is seen (walking away; 12% of people cross with the head turned away).
  Watching: |yaw| <= 13, |pitch| <= 11. Crossing: |yaw| 50-80 towards the walking direction. Brief glances
  (0.2-0.6 s, |yaw| < 17) happen without noticing, so a facing streak under 1 s is not a watcher. Approaching
  people look around (|yaw| up to ~60); after watching, people look away (|yaw| 30-50) for 0.3-0.8 s.
- Directions: LEFT_TO_RIGHT / RIGHT_TO_LEFT (image x) while crossing, APPROACHING, STANDING while the group stands
  (someone in it watches; the others wait, faces turned 30-60 degrees), LEAVING (backs turned, faces not seen).
- Attributes and the returning flag are fixed per track (perception computes them once per track) and present
  from the first tick: bands wrong with probability `attribute_noise` (then less confident), age confidence lower
  far away, some young-looking people AgeBand.UNKNOWN with confidence 0. Re-identification flags 90% of shoppers
  the camera saw on an earlier visit and 1% of the others. Returning groups come back 10 minutes or more after
  they last arrived.
- Noticing and watching: a hazard per second in view (times `motion_notice_effect` for a moving item) while not
  watching, not walking away, not within 3 s of the last watch, and within 180 s of the group's arrival (so every
  visit ends), times `group_follow_effect` while a companion watches. A noticed item holds attention with
  probability `hold_share * (1 + (relevance_hold_effect - 1) * a)` for appeal a (a held watch: at least 3.5 s,
  mean `base_watch_s * (1 + (relevance_duration_effect - 1) * a)`), else it is a short look of 1-2.5 s. Appeal is
  the hidden relevance (demographic taste, individual noise and a few personal likes, slowly drifting) worn by
  `novelty_wear` for each earlier watch of the item by the same shopper.
  When the item changes, a watcher stays with probability r of the new item, else looks away and moves on; nothing
  on screen ends all watching. A group stands while any member watches.
- Time in the truth is counted per tick: the state at a tick counts for that tick's length.
"""

from signage.sim.arrivals import DAY_PROFILE, arrival_rate_per_s, day_profile
from signage.sim.store import VirtualStore
from signage.sim.tastes import TasteModel, item_features
from signage.sim.truth import FACING_MAX_DEG, SimTruth, VisitTruth, WatchEnd, WatchTruth

__all__ = [
    "DAY_PROFILE",
    "FACING_MAX_DEG",
    "SimTruth",
    "TasteModel",
    "VirtualStore",
    "VisitTruth",
    "WatchEnd",
    "WatchTruth",
    "arrival_rate_per_s",
    "day_profile",
    "item_features",
]

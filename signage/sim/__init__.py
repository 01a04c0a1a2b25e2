"""The virtual store: simulated shoppers that stand in for camera + perception + tracking in `signage demo`.

`VirtualStore.step(t_mono, t_utc, showing)` returns, once per tick, the `Observation` the audience stage would get
from a real camera; `VirtualStore.truth()` returns what really happened (`SimTruth`), for tests and reports.

Semantics the audience stage can rely on:
- Track ids are positive ints, new for every visit (a returning shopper gets a new id), never reused.
  A person is in `Tracks` from the tick they enter the view to the tick before they leave it, except ticks
  missed by the sensor (`detection_miss_rate`): then the row is simply absent and the same id comes back.
- Group ids: -1 for someone alone, else a positive id shared by the members of one group in one visit.
- Boxes: body boxes (x1, y1, x2, y2) in pixels of a 640x480 image, clipped to it, at least 1 px wide and high.
- Head pose: yaw, pitch, roll in degrees; yaw 0 faces the camera on the screen. NaN rows when no face is seen
  (walking away, or head turned away while crossing). Watching: |yaw| <= 13, |pitch| <= 11. Crossing: |yaw| 50-80
  towards the walking direction. Brief glances (0.2-0.6 s, |yaw| < 17) happen without noticing. Approaching
  people look around (|yaw| up to ~50). Truth counts "facing" as |yaw| and |pitch| <= 20.
- Directions: LEFT_TO_RIGHT / RIGHT_TO_LEFT (in image x) while crossing, APPROACHING, STANDING while the group
  stands (someone in it watches), LEAVING (backs turned, faces not seen).
- Attributes and the returning flag are fixed per track (perception computes them once per track), present from
  the first tick: bands wrong with probability `attribute_noise` (and then less confident), age confidence lower
  far away, some young-looking people AgeBand.UNKNOWN with confidence 0. Re-identification flags 90% of returning
  shoppers and 1% of new ones.
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

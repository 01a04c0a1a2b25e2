"""The player: shows what the decision engine picked and reports what it showed.

`GaplessPlayer` is the frame-accurate player (`show()` queues, `present(now)` draws one frame and reports proof of
play); `PygamePlayer` is the first, simpler one (`present(item)` shows that item at once), kept until the engine
drives the gapless one.
"""

from signage.player.events import (
    FrameReport,
    PlayerState,
    PlayEvent,
    PlayEventKind,
    StateChange,
    Transition,
    Urgency,
)
from signage.player.fitting import LETTERBOX_COLOR, FitMode
from signage.player.gapless import GaplessPlayer, NowShowing
from signage.player.instant import InstantScreen
from signage.player.media import MediaError, probe_media
from signage.player.pygame_player import PygamePlayer

__all__ = [
    "LETTERBOX_COLOR",
    "FitMode",
    "FrameReport",
    "GaplessPlayer",
    "InstantScreen",
    "MediaError",
    "NowShowing",
    "PlayEvent",
    "PlayEventKind",
    "PlayerState",
    "PygamePlayer",
    "StateChange",
    "Transition",
    "Urgency",
    "probe_media",
]

"""The player: shows what the decision engine picked and reports what it showed."""

from signage.player.pygame_player import LETTERBOX_COLOR, PygamePlayer

__all__ = ["LETTERBOX_COLOR", "PygamePlayer"]

"""signage: a real-time interactive digital-signage engine."""

__version__ = "0.1.0"

"""The stateful RTS tracker (frames in, masks and boxes out)."""

from rtstrack.tracker.config import TrackerConfig
from rtstrack.tracker.tracker import Tracker, TrackState

__all__ = ["Tracker", "TrackerConfig", "TrackState"]

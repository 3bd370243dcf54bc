"""The stateful RTS tracker (frames in, masks and boxes out), for one or several objects."""

from rtstrack.tracker.config import TrackerConfig
from rtstrack.tracker.multi import MultiFrameResult, MultiTracker, soft_aggregate
from rtstrack.tracker.tracker import SearchCrop, Tracker, TrackState

__all__ = ["MultiFrameResult", "MultiTracker", "SearchCrop", "TrackerConfig", "TrackState", "Tracker", "soft_aggregate"]

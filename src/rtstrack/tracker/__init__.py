"""The stateful RTS tracker (frames in, masks and boxes out), for one or several objects."""

from rtstrack.tracker.config import TrackerConfig, pretrained_tracker_config
from rtstrack.tracker.multi import MultiFrameResult, MultiTracker, soft_aggregate
from rtstrack.tracker.tracker import SearchCrop, Tracker, TrackState

__all__ = [
    "MultiFrameResult",
    "MultiTracker",
    "SearchCrop",
    "TrackerConfig",
    "TrackState",
    "Tracker",
    "pretrained_tracker_config",
    "soft_aggregate",
]

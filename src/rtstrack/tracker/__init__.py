"""The stateful RTS tracker (frames in, masks and boxes out), for one or several objects."""

from rtstrack.tracker.config import TrackerConfig, pretrained_tracker_config
from rtstrack.tracker.multi import MultiFrameResult, MultiTracker, soft_aggregate
from rtstrack.tracker.tracker import SearchCrop, Tracker, TrackState, build_tracker

__all__ = [
    "MultiFrameResult",
    "MultiTracker",
    "SearchCrop",
    "TrackerConfig",
    "TrackState",
    "Tracker",
    "build_tracker",
    "pretrained_tracker_config",
    "soft_aggregate",
]

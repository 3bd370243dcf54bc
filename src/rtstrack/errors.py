"""Typed errors of rtstrack. Every message says what was expected, what was found and what to do."""

from __future__ import annotations


class RTSTrackError(Exception):
    """Base class of every error raised on purpose by rtstrack."""


class InputError(RTSTrackError, ValueError):
    """A user-supplied value (frame, box, mask, path, option) is invalid."""


class CheckpointError(RTSTrackError):
    """A weights file cannot be read, is not allowed, or does not match the network."""


class ConfigError(RTSTrackError, ValueError):
    """A configuration value or file is invalid."""


class DatasetError(RTSTrackError):
    """A dataset root or one of its files is missing or malformed."""

"""Importable helpers for tests (e.g. ``--tracker tests.helpers.trackers:drift_tracker``)."""

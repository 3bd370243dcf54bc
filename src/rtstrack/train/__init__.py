"""Training of RTS networks (spec §5): data sampling and processing, losses, the trainer and recipes.

Entry points: :func:`rtstrack.train.trainer.train`, :class:`rtstrack.train.trainer.Trainer`,
:func:`rtstrack.train.recipes.get_config`, and the CLI verbs in :mod:`rtstrack.train.commands`.
"""

"""Exploration types: which value a policy writes, a sample or a deterministic one.

These are tensordict's own objects under torchrl's names, as in torchrl (where
``torchrl.envs.utils.ExplorationType is tensordict.nn.InteractionType``): a policy built
with rldsl and one built with torchrl or tensordict obey the same context.

- :class:`ExplorationType` (``tensordict.nn.InteractionType``): ``RANDOM``,
  ``DETERMINISTIC``, ``MODE``, ``MEAN``, ``MEDIAN``.
- :class:`set_exploration_type` (``set_interaction_type``): a context manager and
  decorator; accepts a member or its name in any case.
- :func:`exploration_type` (``interaction_type``): the type set by the innermost context,
  or ``None`` outside any (probabilistic modules then use their
  ``default_interaction_type``, ``DETERMINISTIC`` by default).

Importing this module changes no global state.

>>> from rldsl.modules.exploration_type import ExplorationType, exploration_type, set_exploration_type
>>> print(exploration_type())
None
>>> with set_exploration_type("random"):
...     exploration_type() is ExplorationType.RANDOM
True
"""

from tensordict.nn.probabilistic import (
    InteractionType as ExplorationType,
    interaction_type as exploration_type,
    set_interaction_type as set_exploration_type,
)

__all__ = ["ExplorationType", "exploration_type", "set_exploration_type"]

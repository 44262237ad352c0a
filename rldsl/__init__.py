"""rldsl: a typed modeling language for reinforcement-learning models.

Importing ``rldsl`` is cheap and never imports torch: the checker and the CLI start in a
fraction of a second. The runtime parts (``rldsl.specs``, ``rldsl.modules``) import torch
when they are imported themselves.

>>> import rldsl
>>> rldsl.__version__
'0.1.0'
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

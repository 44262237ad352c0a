"""Fast reads and writes of tensordict entries for the per-step hot paths (Q-value, exploration,
the short forward of the tensordict modules, the values of probabilistic modules).

A plain `TensorDict` with a string key goes straight to its entry table (tensordict's
``_get_str`` / ``_set_str``, present with the same signature in tensordict 0.14 and 0.15);
any other tensordict class or a nested key takes the public ``get`` / ``set``. A write
takes the direct path only for a plain tensor that already has the tensordict's batch dims
and device (the two checks tensordict's validation makes), or that the caller vouches for
(``fits=True``: computed from an entry of the same tensordict, keeping its leading dims);
anything else, a tensor that would need moving or a shape error included, goes through
``set``.
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDict, TensorDictBase
from tensordict.utils import NestedKey

_FAST = all(hasattr(TensorDict, name) for name in ("_get_str", "_set_str")) and all(
    hasattr(TensorDict({}, []), name) for name in ("_batch_size", "_device"))


def check_key(key: Any, argument: str, owner: str) -> NestedKey:
    """A tensordict key: a string or a non-empty tuple of strings (tuples of one string unwrap)."""
    if isinstance(key, str):
        return key
    if isinstance(key, tuple) and key and all(isinstance(part, str) for part in key):
        return key[0] if len(key) == 1 else key
    raise TypeError(f"{owner} `{argument}` must be a string or a tuple of strings, got {key!r}")


def read_entry(tensordict: TensorDictBase, key: NestedKey, default: Any = None) -> Any:
    """``tensordict.get(key, default)``, without the public method's overhead for plain TensorDicts."""
    if _FAST and type(tensordict) is TensorDict and type(key) is str:
        return tensordict._get_str(key, default)
    return tensordict.get(key, default)


def write_entry(tensordict: TensorDictBase, key: NestedKey, value: torch.Tensor, fits: bool = False) -> None:
    """``tensordict.set(key, value)``, without the public method's overhead when the value fits as is.

    ``fits=True`` says the caller knows the value has the tensordict's batch dims and device
    (it was computed from an entry of this tensordict, keeping its leading dims).
    """
    if _FAST and type(tensordict) is TensorDict and type(key) is str and type(value) is torch.Tensor:
        if fits:
            tensordict._set_str(key, value, inplace=False, validated=True)
            return
        batch_size, device = tensordict._batch_size, tensordict._device
        if ((not batch_size or (not value.is_nested and value.shape[: len(batch_size)] == batch_size))
                and (device is None or value.device == device)):
            tensordict._set_str(key, value, inplace=False, validated=True)
            return
    tensordict.set(key, value)

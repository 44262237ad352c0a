"""`ConsistentDropoutModule`: consistent dropout on a tensordict key, its mask stored under a second key.

The module reads ``in_keys[0]`` and, when present, the mask ``in_keys[1]``; in training it writes
the dropped-out value to ``out_keys[0]`` and the mask it used (the one read, or a new one) to
``out_keys[1]``, so that a rollout stores its masks and an update on the same data reuses them
(:class:`~rldsl.modules.dropout.ConsistentDropout`). In evaluation it writes the input unchanged
to ``out_keys[0]`` and no mask.

Keys follow torchrl 0.14: a single key ``k`` for ``in_keys`` means ``[k, "mask_<id(module)>"]``,
``out_keys`` default to ``in_keys``. That mask key is a new name for every module object, so it
cannot be written in a model file nor survive a rebuild; rldsl adds the keyword ``mask_key``,
which names the mask instead (the language always passes it, by default ``<out>_dropout_mask``).
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase
from tensordict.utils import NestedKey

from rldsl.modules.dropout import ConsistentDropout, check_dropout_probability

__all__ = ["ConsistentDropoutModule"]


def _is_key(value: Any) -> bool:
    """A nested key: a string, or a non-empty tuple of strings."""
    return isinstance(value, str) or (isinstance(value, tuple) and bool(value)
                                      and all(isinstance(part, str) for part in value))


def _key_pair(keys: Any, mask: NestedKey, name: str) -> list:
    """``[keys, mask]`` for a single key, else the given two keys as a list."""
    if _is_key(keys):
        return [keys, mask]
    if isinstance(keys, (list, tuple)) and all(_is_key(k) for k in keys):
        if len(keys) != 2:
            raise ValueError(f"in_keys and out_keys length must be 2 for consistent dropout (the value and its mask), "
                             f"got {name}={list(keys)!r}")
        return list(keys)
    raise TypeError(f"ConsistentDropoutModule `{name}` must be a key or a list of two keys, got {keys!r}")


class ConsistentDropoutModule(TensorDictModuleBase):
    """Consistent dropout on one key, its mask kept in the tensordict.

    Args:
        p (float): the dropout probability, in ``[0, 1)``.
        in_keys (NestedKey or list of two NestedKeys): the key to drop out, or ``[key, mask_key]``.
        out_keys (NestedKey or list of two NestedKeys, optional): where the value and the mask go;
            defaults to ``in_keys``.
        input_shape (tuple, optional): the shape of the input without batch dims, kept for a
            primer that resets the mask (``make_tensordict_primer``).
        input_dtype (torch.dtype, optional): the dtype of that primer's mask.

    Keyword Args:
        mask_key (NestedKey, optional): rldsl's addition: the mask key to use where torchrl makes
            ``"mask_<id(self)>"`` (a single key given as ``in_keys`` or ``out_keys``). Defaults
            to ``None``: torchrl's name.

    Example:
        >>> from tensordict import TensorDict
        >>> module = ConsistentDropoutModule(0.1, in_keys="x", mask_key="x_mask")
        >>> module.in_keys, module.out_keys
        (['x', 'x_mask'], ['x', 'x_mask'])
        >>> td = module(TensorDict(x=torch.randn(3, 4), batch_size=[3]))
        >>> td["x_mask"].shape, td["x_mask"].dtype
        (torch.Size([3, 4]), torch.float32)
    """

    def __init__(self, p: float, in_keys: NestedKey | list[NestedKey],
                 out_keys: NestedKey | list[NestedKey] | None = None,
                 input_shape: torch.Size | tuple | None = None, input_dtype: torch.dtype | None = None, *,
                 mask_key: NestedKey | None = None) -> None:
        super().__init__()
        if mask_key is not None and not _is_key(mask_key):
            raise TypeError(f"ConsistentDropoutModule `mask_key` must be a key, got {mask_key!r}")
        default_mask = mask_key if mask_key is not None else f"mask_{id(self)}"
        in_list = _key_pair(in_keys, default_mask, "in_keys")
        out_list = list(in_list) if out_keys is None else _key_pair(out_keys, default_mask, "out_keys")
        if mask_key is not None and not (_is_key(in_keys) or _is_key(out_keys)):
            raise ValueError("ConsistentDropoutModule `mask_key` names the mask where a single key is given, but "
                             "in_keys and out_keys already list the mask key")
        self.in_keys = in_list
        self.out_keys = out_list
        self.input_shape = input_shape
        self.input_dtype = input_dtype
        self.consistent_dropout = ConsistentDropout(check_dropout_probability(p, "ConsistentDropoutModule",
                                                                              allow_one=False))

    @property
    def p(self) -> float:
        """The dropout probability."""
        return self.consistent_dropout.p

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Drop out ``in_keys[0]`` with the mask ``in_keys[1]`` when present (else a new one).

        Training: ``in_keys[0]: [*B, *S] -> out_keys[0]: [*B, *S]`` and the mask
        ``out_keys[1]: [*B, *S]`` (float: 0 or ``1 / (1 - p)``); evaluation: ``out_keys[0]`` is
        the input and no mask is written.
        """
        value = tensordict.get(self.in_keys[0])
        mask = tensordict.get(self.in_keys[1], None)
        if self.consistent_dropout.training:
            value, mask = self.consistent_dropout(value, mask=mask)
            tensordict.set(self.out_keys[0], value)
            tensordict.set(self.out_keys[1], mask)
        else:
            tensordict.set(self.out_keys[0], self.consistent_dropout(value, mask=mask))
        return tensordict

    def make_tensordict_primer(self) -> Any:
        """The primer of the mask key (:class:`~rldsl.modules.primer.TensorDictPrimer`), drawing a
        new mask of ``input_shape`` at every reset, as torchrl's: an env resets the mask with each
        episode, so it stays the same within one.

        >>> from rldsl.modules import ConsistentDropoutModule
        >>> module = ConsistentDropoutModule(p=0.5, in_keys="x", input_shape=(3,))
        >>> module.make_tensordict_primer().keys()  # doctest: +ELLIPSIS
        ['mask_...']
        """
        from functools import partial

        from rldsl.modules.primer import TensorDictPrimer
        from rldsl.specs import Unbounded

        if self.input_shape is None:
            raise RuntimeError("Cannot infer the shape of the input automatically. Please pass the shape of the tensor "
                               "to `ConsistentDropoutModule` during construction with the `input_shape` kwarg.")
        shape = tuple(self.input_shape)
        return TensorDictPrimer(primers={self.in_keys[1]: Unbounded(shape=shape)},
                                default_value=partial(self.consistent_dropout.make_mask, shape=shape))

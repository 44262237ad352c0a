"""Q-value modules: pick the greedy action from a network's action values.

`QValueModule` reads ``action_value`` and writes ``action`` (the greedy action, encoded as
the action space says) and ``chosen_action_value`` (its value, shape ``[*B, 1]``, with the
gradient of the network's values). `QValueActor` puts a value network in front of it.
`DistributionalQValueModule` / `DistributionalQValueActor` do the same from a distribution
over value atoms (log-probabilities of shape ``[*B, atoms, actions]``) and a `support`.

Action spaces (``action_space=`` or inferred from the spec's class):

* ``"one_hot"`` (`OneHot`): one-hot rows, int64; ties go to the first maximal action.
* ``"categorical"`` (`Categorical`): the index of the first maximal value, int64.
* ``"mult_one_hot"`` (`MultiOneHot`): the last dim holds several variables side by side
  (sizes `var_nums`, or the spec's `nvec`); one one-hot block per variable.
* ``"multi_categorical"`` (`MultiCategorical`): the same layout of values; the action is
  the index chosen for each variable, stacked on the last dim.
* ``"binary"`` (`Binary`): ``n`` bits, each a two-valued variable: the values hold one
  pair ``(value of 0, value of 1)`` per bit (``2 * n`` entries); the action is the best
  value of each bit.

With several variables the action value is additive, ``Q(s, a) = sum_i Q_i(s, a_i)``, so
``chosen_action_value`` is the sum of the chosen values, whatever the encoding.

An action mask (``action_mask_key``, True = allowed, laid out like the values' last dim
for one-hot / multi spaces and ``[*B, n]`` for categorical) restricts the choice. The
network's values are written unchanged: the mask changes the choice, not ``action_value``.

>>> import torch
>>> from tensordict import TensorDict
>>> from rldsl.specs import OneHot
>>> actor = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4))
>>> td = actor(TensorDict({"observation": torch.randn(5, 3)}, [5]))
>>> td["action"].shape, td["action_value"].shape, td["chosen_action_value"].shape
(torch.Size([5, 4]), torch.Size([5, 4]), torch.Size([5, 1]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModule, TensorDictModuleBase, dispatch, skip_existing
from tensordict.utils import NestedKey
from torch import nn

from rldsl._checks import is_int, require_bool, require_positive
from rldsl.errors import RldslError
from rldsl.modules.tensordict_module._entries import check_key, read_entry, write_entry
from rldsl.modules.tensordict_module.common import SpecOwner
from rldsl.modules.tensordict_module.sequence import SafeSequential
from rldsl.modules.utils import ArgumentError
from rldsl.specs import Binary, Categorical, Composite, MultiCategorical, MultiOneHot, OneHot, TensorSpec
from rldsl.specs._base import has_values
from rldsl.specs.discrete import argmax_allowed

__all__ = [
    "DistributionalDQNnet",
    "DistributionalQValueActor",
    "DistributionalQValueHook",
    "DistributionalQValueModule",
    "QValueActor",
    "QValueHook",
    "QValueModule",
]

ACTION_SPACES = {
    "one_hot": "one_hot", "one-hot": "one_hot",
    "mult_one_hot": "mult_one_hot", "mult-one-hot": "mult_one_hot",
    "multi_one_hot": "mult_one_hot", "multi-one-hot": "mult_one_hot",
    "binary": "binary",
    "categorical": "categorical",
    "multi_categorical": "multi_categorical", "multi-categorical": "multi_categorical",
    "multi_discrete": "multi_categorical", "multi-discrete": "multi_categorical",
}
SPEC_SPACES = {
    OneHot: "one_hot", MultiOneHot: "mult_one_hot", Binary: "binary",
    Categorical: "categorical", MultiCategorical: "multi_categorical",
}
MULTI_SPACES = ("mult_one_hot", "multi_categorical", "binary")
STRICT_SHAPES = (True, False, None, "auto")


class ActionSpaceTypeError(RldslError, TypeError, RuntimeError):
    """A spec passed as `action_space` (torchrl raises ``TypeError`` or ``RuntimeError`` for it)."""


# --- action space resolution --------------------------------------------------------------------------
def space_of_spec(spec: TensorSpec) -> str:
    """The action space of a discrete spec class (subclasses map like their closest base)."""
    for cls in type(spec).__mro__:
        if cls in SPEC_SPACES:
            return SPEC_SPACES[cls]
    raise ValueError(
        f"action_space was not specified/not compatible: a Q-value module needs a discrete action spec "
        f"(OneHot, Categorical, MultiOneHot, MultiCategorical or Binary), got {type(spec).__name__}"
    )


def find_action_spec(spec: Composite, action_key: NestedKey | None) -> TensorSpec | None:
    """The action's leaf in a Composite: at `action_key`, else ``"action"``, else the first ``(..., "action")``."""
    if action_key is not None and action_key in spec:
        return spec[action_key]
    if "action" in spec:
        return spec["action"]
    for key in spec.keys(True, True):
        if isinstance(key, tuple) and key[-1] == "action":
            return spec[key]
    raise KeyError(
        "action could not be found in the spec. Make sure you pass a spec that is either a native action spec "
        "or a composite action spec with a leaf 'action' entry (or the module's action key). Otherwise, "
        "simply remove the spec and use the action_space only."
    )


def resolve_action_space(action_space: Any, spec: Any, action_key: NestedKey | None = None,
                         owner: str = "QValueModule") -> tuple[str, TensorSpec | None]:
    """The canonical action space name and the action's leaf spec (None when there is none)."""
    if isinstance(action_space, TensorSpec):
        raise ActionSpaceTypeError(
            f"{owner}: Using specs in action_space is deprecated; pass the spec as spec=... and, if needed, "
            f"action_space as a string such as 'one_hot'"
        )
    if spec is None or isinstance(spec, Composite):
        leaf = None if spec is None else find_action_spec(spec, action_key)
    elif isinstance(spec, TensorSpec):
        leaf = spec
    else:
        raise TypeError(f"{owner} `spec` must be an rldsl spec (e.g. OneHot(4)) or None, got {type(spec).__name__}")
    if action_space is None:
        if leaf is None:
            raise ValueError(
                f"{owner}: Neither action_space nor spec was defined. The action space cannot be inferred; "
                f"pass action_space='one_hot' (or 'categorical', ...) or spec=OneHot(n)"
            )
        return space_of_spec(leaf), leaf
    if not isinstance(action_space, str) or action_space not in ACTION_SPACES:
        raise ValueError(
            f"{owner}: action_space {action_space!r} could not be retrieved; use one of "
            f"{sorted(set(ACTION_SPACES))}"
        )
    space = ACTION_SPACES[action_space]
    if leaf is not None and space_of_spec(leaf) != space:
        raise ValueError(
            f"{owner}: The action spec and the action space do not match: got action_space={action_space!r} "
            f"and a {type(leaf).__name__} spec (action space {space_of_spec(leaf)!r})"
        )
    return space, leaf


def variable_sizes(space: str, var_nums: Any, leaf: TensorSpec | None, owner: str) -> Any:
    """The per-variable sizes along the values' last dim: a tuple, an int (equal sizes), or None.

    None means "one variable" (one-hot, categorical) or "infer from the values" (binary
    without a spec: one pair per bit).
    """
    if space == "binary":
        if var_nums not in (None, 2) and not (isinstance(var_nums, (list, tuple)) and set(var_nums) == {2}):
            raise ValueError(f"{owner}: binary action values come in pairs per bit; var_nums must be None or 2, "
                             f"got {var_nums!r}")
        return (2,) * leaf.shape[-1] if leaf is not None else None
    if space not in MULTI_SPACES:
        return None
    from_spec = spec_sizes(leaf)
    given = given_sizes(var_nums, owner)
    if given is None and from_spec is None:
        raise ValueError(
            f"{owner}: var_nums must be provided to the constructor for {space} action spaces without a "
            f"{'MultiOneHot' if space == 'mult_one_hot' else 'MultiCategorical'} spec: the size of each variable "
            f"(an int when all are equal, else a list), e.g. var_nums=[3, 2]"
        )
    if given is not None and from_spec is not None:
        expanded = given if isinstance(given, tuple) else (given,) * (sum(from_spec) // given)
        if expanded != from_spec:
            raise ValueError(f"{owner}: var_nums={var_nums!r} does not match the spec's variable sizes "
                             f"{list(from_spec)}; drop var_nums (it is read from the spec)")
    return from_spec if from_spec is not None else given


def spec_sizes(leaf: TensorSpec | None) -> tuple[int, ...] | None:
    """Variable sizes of a MultiOneHot / MultiCategorical spec (None for others)."""
    if isinstance(leaf, MultiOneHot):
        return tuple(leaf.nvec)
    if isinstance(leaf, MultiCategorical):
        return tuple(leaf._row_nvec())
    return None


def given_sizes(var_nums: Any, owner: str) -> Any:
    """`var_nums` checked: None, a positive int (every variable's size) or a list of positive ints."""
    if var_nums is None:
        return None
    if is_int(var_nums):
        return require_positive(var_nums, f"{owner} `var_nums`", expected="positive")
    if isinstance(var_nums, (list, tuple)) and var_nums and all(is_int(n) and n > 0 for n in var_nums):
        return tuple(var_nums)
    raise TypeError(f"{owner} `var_nums` must be a positive int or a list of positive ints, got {var_nums!r}")


# --- greedy choice ------------------------------------------------------------------------------------------
def best_index(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Index (keepdim) of the first maximal value per row, among the allowed ones when masked."""
    if mask is None:
        return values.argmax(-1, keepdim=True)
    return argmax_allowed(values, mask).unsqueeze(-1)


def one_hot_like(index: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """int64 one-hot rows shaped like `values`, hot at `index` (keepdim indices).

    Under vmap the scatter takes a tensor source (scattering a scalar has no batching rule);
    so does a compiled call, where the functorch test is asked first (Dynamo cannot trace it).
    """
    zeros = torch.zeros_like(values, dtype=torch.long)
    if torch.compiler.is_compiling() or torch._C._functorch.is_functorch_wrapped_tensor(index):
        return zeros.scatter(-1, index, torch.ones_like(index))
    return zeros.scatter_(-1, index, 1)


def split_sizes(sizes: Any, width: int, owner: str) -> Any:
    """The sizes to split the values' last dim with, checked against its width."""
    if sizes is None:  # binary without a spec: one pair per bit
        if width % 2:
            raise ValueError(f"{owner}: binary action values hold a pair per bit; got an odd last dim ({width})")
        return 2
    total = sizes * (width // sizes) if isinstance(sizes, int) else sum(sizes)
    if total != width or width == 0:
        raise ValueError(
            f"{owner}: the action values' last dim ({width}) does not match the variable sizes "
            f"{sizes if isinstance(sizes, int) else list(sizes)} (var_nums or the spec's nvec)"
        )
    return sizes


def greedy(values: torch.Tensor, mask: torch.Tensor | None, space: str, sizes: Any,
           owner: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The greedy action (encoded for `space`) and its value ``[*B, 1]``."""
    if space == "one_hot" or space == "categorical":
        index = best_index(values, mask)
        chosen = values.gather(-1, index)
        return (one_hot_like(index, values) if space == "one_hot" else index.squeeze(-1)), chosen
    sizes = split_sizes(sizes, values.shape[-1], owner)
    chunks = values.split(sizes, -1)
    masks = mask.expand_as(values).split(sizes, -1) if mask is not None else (None,) * len(chunks)
    indices = [best_index(chunk, chunk_mask) for chunk, chunk_mask in zip(chunks, masks)]
    chosen = chunks[0].gather(-1, indices[0])
    for chunk, index in zip(chunks[1:], indices[1:]):
        chosen = chosen + chunk.gather(-1, index)
    if space == "mult_one_hot":
        return torch.cat([one_hot_like(index, chunk) for chunk, index in zip(chunks, indices)], -1), chosen
    return torch.cat(indices, -1), chosen


def check_strict_shape(value: Any, owner: str) -> bool | str | None:
    """`strict_shape` must be True, False, None or "auto"."""
    if value not in STRICT_SHAPES or (value is not None and not isinstance(value, (bool, str))):
        raise ValueError(f"{owner} `strict_shape` must be True, False, None or 'auto', got {value!r}")
    return value


def read_mask(tensordict: TensorDictBase, key: NestedKey | None, owner: str) -> torch.Tensor | None:
    """The boolean action mask at `key` (None without a key)."""
    if key is None:
        return None
    mask = read_entry(tensordict, key)
    if mask is None:
        raise KeyError(f"{owner}: Action mask key {key!r} not found in the tensordict "
                       f"(keys: {list(tensordict.keys(True, True))})")
    if not isinstance(mask, torch.Tensor) or mask.dtype is not torch.bool:
        raise TypeError(f"{owner}: the action mask at {key!r} must be a bool tensor (True = allowed), "
                        f"got {getattr(mask, 'dtype', type(mask).__name__)}")
    return mask


def outputs_fit(tensordict: TensorDictBase, values: torch.Tensor, value_dims: int) -> bool:
    """Whether outputs keeping the values' leading dims (all but `value_dims`) fit the tensordict as is.

    True when the values sit on the tensordict's device and their leading dims cover its
    batch dims; the values themselves were validated when read from (or written to) it.
    """
    device = tensordict.device
    return values.ndim - value_dims >= tensordict.batch_dims and (device is None or values.device == device)


def read_values(tensordict: TensorDictBase, key: NestedKey, owner: str) -> torch.Tensor:
    """The action values at `key` (a clear KeyError when absent)."""
    values = read_entry(tensordict, key)
    if values is None:
        raise KeyError(f"{owner}: Action value key {key!r} not found in the tensordict "
                       f"(keys: {list(tensordict.keys(True, True))})")
    return values


# --- the module's spec ---------------------------------------------------------------------------------------
def module_spec(spec: Any, leaf: TensorSpec | None, out_keys: Sequence[NestedKey]) -> Composite:
    """A Composite with the action's spec under ``out_keys[0]`` and None for the other outputs."""
    if isinstance(spec, Composite):
        composite = spec.clone()
        if out_keys[0] not in composite:
            composite[out_keys[0]] = None if leaf is None else leaf.clone()
    else:
        composite = Composite(shape=leaf.shape[:-1] if leaf is not None else ())
        composite[out_keys[0]] = None if leaf is None else leaf.clone()
    for key in out_keys[1:]:
        if key not in composite:
            composite[key] = None
    return composite


def per_sample_shape(composite: Composite, action_key: NestedKey) -> torch.Size | None:
    """The action's shape without the batch dims of the Composite holding it (None without a spec)."""
    leaf = composite.get(action_key)
    if leaf is None:
        return None
    parent = composite[action_key[:-1]] if isinstance(action_key, tuple) and len(action_key) > 1 else composite
    return leaf.shape[len(parent.shape):]


def check_out_keys(out_keys: Any, value_key: NestedKey, count: int, owner: str) -> list[NestedKey]:
    """`count` output keys with the action-value key second."""
    if not isinstance(out_keys, (list, tuple)) or len(out_keys) != count:
        names = "[action, action_value, chosen_action_value]" if count == 3 else "[action, action_value]"
        raise ValueError(f"{owner} `out_keys` must list {count} keys {names}, got {out_keys!r}")
    keys = [check_key(key, "out_keys", owner) for key in out_keys]
    if keys[1] != value_key:
        raise ArgumentError(
            f"{owner}: Expected the action-value key to be '{value_key}' (second in out_keys) but got "
            f"{keys[1]!r} instead; out_keys are [action, action_value, ...] in that order"
        )
    return keys


class QValueModule(SpecOwner, TensorDictModuleBase):
    """Greedy action and chosen value from action values (see the module docstring for the spaces).

    Args:
        action_space: ``"one_hot"``, ``"categorical"``, ``"mult_one_hot"``,
            ``"multi_categorical"`` or ``"binary"`` (and torchrl's spellings of them);
            inferred from `spec` when None.
        action_value_key: where the values are read. Default ``"action_value"``.
        action_mask_key: where a boolean action mask is read. Default None.
        out_keys: ``[action, action_value, chosen_action_value]`` keys.
        var_nums: the size of each variable for multi-variable spaces (read from a
            MultiOneHot / MultiCategorical spec when not given).
        spec: the action spec (plain, or a Composite with the action entry).
        safe: project the action into the spec (its dtype included).
        strict_shape: the action must have the spec's shape: True/None raise
            ``RuntimeError`` on a mismatch, ``"auto"`` reshapes, False skips the check.

    Called with a tensor (``module(values)``) it returns
    ``(action, action_value, chosen_action_value)``.

    >>> import torch
    >>> module = QValueModule("categorical")
    >>> action, values, chosen = module(torch.tensor([[1.0, 3.0, 3.0], [0.0, -1.0, 2.0]]))
    >>> action.tolist(), chosen.tolist()
    ([1, 2], [[3.0], [2.0]])
    """

    def __init__(self, action_space: str | None = None, action_value_key: NestedKey | None = None,
                 action_mask_key: NestedKey | None = None, out_keys: Sequence[NestedKey] | None = None,
                 var_nums: Any = None, spec: TensorSpec | None = None, safe: bool = False,
                 strict_shape: bool | str | None = True) -> None:
        owner = type(self).__name__
        value_key = check_key("action_value" if action_value_key is None else action_value_key,
                              "action_value_key", owner)
        count = self._out_key_count
        if out_keys is None:
            out_keys = ["action", value_key, "chosen_action_value"][:count]
        out_keys = check_out_keys(out_keys, value_key, count, owner)
        space, leaf = resolve_action_space(action_space, spec, out_keys[0], owner)
        sizes = variable_sizes(space, var_nums, leaf, owner)
        require_bool(safe, f"{owner} `safe`")
        mask_key = None if action_mask_key is None else check_key(action_mask_key, "action_mask_key", owner)
        if mask_key is not None and space == "binary":
            raise TypeError(f"{owner}: binary action spaces take no mask; use action_space='multi_categorical' "
                            f"with var_nums=2 (and a MultiCategorical spec) for maskable bits")
        super().__init__()
        self.action_space = space
        self.var_nums = var_nums
        self._strict_shape = check_strict_shape(strict_shape, owner)
        self.action_mask_key = mask_key
        self.in_keys = [value_key] + ([mask_key] if mask_key is not None else [])
        self.out_keys = out_keys
        self._sizes = sizes
        self._owner = owner
        self._set_spec(module_spec(spec, leaf, out_keys), safe)

    _out_key_count = 3

    def _set_spec(self, composite: Composite, safe: bool) -> None:
        action_spec = composite.get(self.out_keys[0])
        if safe and action_spec is None:
            raise ArgumentError(f"{type(self).__name__}(spec=None, safe=True) is not a valid configuration: safe=True "
                                f"projects the action into its spec, so pass spec=")
        self._spec = composite
        self._safe = safe
        self._action_spec = action_spec
        self._per_sample = per_sample_shape(composite, self.out_keys[0])
        self._check_shape = self._per_sample is not None and self._strict_shape is not False
        self._fitting_values_shape = None

    @property
    def spec(self) -> Composite:
        """The `Composite` spec of the outputs (the action's spec, None for the values)."""
        return self._spec

    @spec.setter
    def spec(self, spec: Composite) -> None:
        if not isinstance(spec, Composite):
            raise TypeError(f"{type(self).__name__}.spec must be set to a Composite, got {type(spec).__name__}")
        leaf = spec.get(self.out_keys[0])
        if leaf is not None and space_of_spec(leaf) != self.action_space:
            raise ValueError(f"{type(self).__name__}: a {type(leaf).__name__} spec does not describe the "
                             f"{self.action_space!r} action space of this module")
        self._set_spec(module_spec(spec, leaf, self.out_keys), self._safe)

    @property
    def safe(self) -> bool:
        """Whether the action is projected into its spec before being written."""
        return self._safe

    @property
    def strict_shape(self) -> bool | str | None:
        """How the action's shape is held to the spec: True/None raise, "auto" reshapes, False skips."""
        return self._strict_shape

    @strict_shape.setter
    def strict_shape(self, value: bool | str | None) -> None:
        self._strict_shape = check_strict_shape(value, self._owner)
        self._check_shape = self._per_sample is not None and value is not False
        self._fitting_values_shape = None

    @property
    def action_value_key(self) -> NestedKey:
        """The key of the action values."""
        return self.in_keys[0]

    @dispatch(auto_batch_size=False)
    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Write the greedy action and its value (see the class docstring).

        ``action_value: [*B, n]`` (and ``action_mask: [*B, n]`` bool) ``-> action``: ``[*B, n]``
        one-hot (``one_hot``), ``[*B]`` index (``categorical``), ``[*B, n]`` one-hot blocks
        (``mult_one_hot``), ``[*B, n_vars]`` indices (``multi_categorical``) or ``[*B, n // 2]``
        bits (``binary``), int64 (then reshaped by ``strict_shape="auto"``, projected by
        ``safe``); and ``chosen_action_value: [*B, 1]``. ``action_value`` is left as read.
        """
        values = read_values(tensordict, self.in_keys[0], self._owner)
        return self._write(tensordict, values)

    def _write(self, tensordict: TensorDictBase, values: torch.Tensor) -> TensorDictBase:
        """The work of `forward` once the values are read (QValueActor calls it directly)."""
        owner = self._owner
        mask = None if self.action_mask_key is None else read_mask(tensordict, self.action_mask_key, owner)
        action, chosen = greedy(values, mask, self.action_space, self._sizes, owner)
        if self._check_shape:
            action = self._fit_shape(action, values)
        if self._safe:
            action = self._action_spec.project(action)
        out_keys = self._out_keys_apparent
        fits = outputs_fit(tensordict, values, 1)
        write_entry(tensordict, out_keys[0], action, fits)
        write_entry(tensordict, out_keys[2], chosen, fits)
        return tensordict

    def _fit_shape(self, action: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Check (or, with ``strict_shape="auto"``, reshape) the action against the spec's shape.

        The check depends on the values' shape only; a shape that passed once is remembered.
        """
        if values.shape == self._fitting_values_shape:
            return action
        target = values.shape[:-1] + self._per_sample
        if action.shape == target:
            self.__dict__["_fitting_values_shape"] = values.shape
            return action
        if self._strict_shape == "auto":
            try:
                return action.reshape(target)
            except RuntimeError:
                raise RuntimeError(f"Cannot reshape action from {tuple(action.shape)} to {tuple(target)}.") from None
        raise RuntimeError(
            f"Action shape {tuple(action.shape)} does not match expected shape {tuple(target)} (per-sample spec "
            f"shape: {tuple(self._per_sample)}). Set strict_shape='auto' to attempt automatic reshaping, or "
            f"strict_shape=False to skip this check."
        )

    def _spec_moved(self) -> None:
        """The spec followed the module to another device: refresh what is read from it."""
        self._set_spec(self._spec, self._safe)


# --- distributional ---------------------------------------------------------------------------------------------
def check_support(support: Any, owner: str) -> torch.Tensor:
    """The value atoms: a 1-D real tensor with at least one atom."""
    if not isinstance(support, torch.Tensor):
        raise TypeError(f"{owner} `support` must be a 1-D tensor of atom values, e.g. torch.linspace(-10, 10, 51), "
                        f"got {type(support).__name__}")
    if support.ndim != 1 or support.numel() == 0 or support.dtype.is_complex or support.dtype is torch.bool:
        raise ValueError(f"{owner} `support` must be a non-empty 1-D real tensor, got shape {tuple(support.shape)} "
                         f"and dtype {support.dtype}")
    return support


def under_transform(values: torch.Tensor) -> bool:
    """True inside vmap/grad transforms or compilation, where data-dependent checks cannot run."""
    # `is_compiling` first: Dynamo cannot trace the functorch test (a graph break).
    return torch.compiler.is_compiling() or torch._C._functorch.is_functorch_wrapped_tensor(values)


class DistributionalQValueModule(QValueModule):
    """Greedy action from value distributions: log-probabilities ``[*B, atoms, actions]`` over a `support`.

    The value of each action is its expected value ``sum_atoms(exp(log_p) * support)``;
    the action is chosen from those as in `QValueModule` (mask included). Writes
    ``action`` only (and leaves ``action_value`` as is): ``out_keys = [action, action_value]``.
    The input must be log-softmax values (checked once per input shape/dtype/device).

    Shapes: ``action_value: [*B, atoms, n]`` (and ``action_mask: [*B, n]``) ``-> action``
    encoded as in `QValueModule.forward` from the expected values ``[*B, n]``: ``[*B, n]``
    one-hot, ``[*B]`` index, ... No ``chosen_action_value``.

    Args:
        action_space: as in `QValueModule` (may be None when `spec` says it).
        support: the atom values, shape ``[atoms]``.
        action_value_key, action_mask_key, out_keys, var_nums, spec, safe: as in `QValueModule`.

    >>> import torch
    >>> module = DistributionalQValueModule("categorical", support=torch.tensor([0.0, 1.0]))
    >>> log_p = torch.log(torch.tensor([[0.9, 0.2], [0.1, 0.8]]))  # 2 atoms x 2 actions
    >>> action, _ = module(log_p)
    >>> action.tolist()
    1
    """

    _out_key_count = 2

    def __init__(self, action_space: str | None, support: torch.Tensor, action_value_key: NestedKey | None = None,
                 action_mask_key: NestedKey | None = None, out_keys: Sequence[NestedKey] | None = None,
                 var_nums: Any = None, spec: TensorSpec | None = None, safe: bool = False) -> None:
        support = check_support(support, type(self).__name__)
        super().__init__(action_space=action_space, action_value_key=action_value_key,
                         action_mask_key=action_mask_key, out_keys=out_keys, var_nums=var_nums, spec=spec,
                         safe=safe, strict_shape=False)
        self.register_buffer("support", support)
        self._checked: set = set()

    def _write(self, tensordict: TensorDictBase, values: torch.Tensor) -> TensorDictBase:
        expected = self.expected_values(values)
        mask = None if self.action_mask_key is None else read_mask(tensordict, self.action_mask_key, self._owner)
        action, _ = greedy(expected, mask, self.action_space, self._sizes, self._owner)
        if self._safe:
            action = self._action_spec.project(action)
        write_entry(tensordict, self.out_keys[0], action, outputs_fit(tensordict, values, 2))
        return tensordict

    def expected_values(self, log_probs: torch.Tensor) -> torch.Tensor:
        """The expected value of each action, ``[*B, actions]``, from log-probabilities ``[*B, atoms, actions]``."""
        support = self.support if self.support.device == log_probs.device else self.support.to(log_probs.device)
        if log_probs.ndim < 2 or log_probs.shape[-2] != support.shape[-1]:
            raise RuntimeError(
                f"Support length and number of atoms in module output should match, got "
                f"support.shape={tuple(support.shape)} and action values of shape {tuple(log_probs.shape)} "
                f"(expected [*batch, atoms, actions])"
            )
        self._check_log_softmax(log_probs)
        return (log_probs.exp() * support.unsqueeze(-1)).sum(-2)

    def _check_log_softmax(self, log_probs: torch.Tensor) -> None:
        """Refuse positive inputs (logits instead of log-probabilities), once per input signature.

        Skipped for inputs without values (``meta`` tensors), which cannot be checked.
        """
        if under_transform(log_probs) or not has_values(log_probs):
            return
        signature = (log_probs.shape, log_probs.dtype, log_probs.device)
        if signature in self._checked:
            return
        if bool((log_probs > 0).any()):
            raise ValueError(
                f"input to QValueHook must be log-softmax values (which are expected to be non-positive numbers). "
                f"got a maximum value of {float(log_probs.detach().max()):4.4f}; use make_log_softmax=True or a "
                f"DistributionalDQNnet in front of this module"
            )
        self._checked.add(signature)


class DistributionalDQNnet(TensorDictModuleBase):
    """Log-softmax over the atoms (dim -2) of distributional action values, in place by default.

    Keyword Args:
        in_keys: the keys of the raw values ``[*B, atoms, actions]``. Default ``["action_value"]``.
        out_keys: where the log-probabilities are written. Default ``["action_value"]``.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> td = DistributionalDQNnet()(TensorDict({"action_value": torch.randn(10, 5, 3)}, [10]))
    >>> torch.allclose(td["action_value"].exp().sum(-2), torch.ones(10, 3))
    True
    """

    def __init__(self, *, in_keys: Sequence[NestedKey] | None = None, out_keys: Sequence[NestedKey] | None = None):
        owner = type(self).__name__
        in_keys = ["action_value"] if in_keys is None else [check_key(k, "in_keys", owner) for k in in_keys]
        out_keys = ["action_value"] if out_keys is None else [check_key(k, "out_keys", owner) for k in out_keys]
        if len(in_keys) != len(out_keys) or not in_keys:
            raise ValueError(f"{owner}: in_keys and out_keys must pair up one to one, got {in_keys} and {out_keys}")
        super().__init__()
        self.in_keys = in_keys
        self.out_keys = out_keys

    @dispatch(auto_batch_size=False)
    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Replace each input by its log-softmax over the atoms dim (-2).

        ``in_keys[i]: [*B, atoms, n] -> out_keys[i]: [*B, atoms, n]`` log-probabilities.
        """
        for in_key, out_key in zip(self.in_keys, self.out_keys):
            values = tensordict.get(in_key)
            if values.ndim < 2:
                raise RuntimeError(
                    f"DistributionalDQNnet requires dqn output to be at least 2-dimensional, with dimensions "
                    f"*Batch x #Atoms x #Actions. Got {tuple(values.shape)} instead."
                )
            tensordict.set(out_key, torch.log_softmax(values, dim=-2))
        return tensordict


# --- hooks ---------------------------------------------------------------------------------------------------------
class QValueHook:
    """A forward hook turning a Q network's output into ``(action, action_values, chosen_action_value)``.

    Shapes: ``values: [*B, n] -> (action, values, chosen_action_value: [*B, 1])``.

    Register it with ``net.register_forward_hook(QValueHook("one_hot"))``; an `Actor` with the
    three out keys then writes all three. A hook sees only the network's output, so it takes
    no action mask (use `QValueModule` with `action_mask_key`).

    >>> import torch
    >>> net = torch.nn.Linear(3, 4)
    >>> _ = net.register_forward_hook(QValueHook("one_hot"))
    >>> action, values, chosen = net(torch.randn(2, 3))
    >>> action.sum(-1).tolist()
    [1, 1]
    """

    def __init__(self, action_space: str, var_nums: Any = None, action_value_key: NestedKey | None = None,
                 action_mask_key: NestedKey | None = None, out_keys: Sequence[NestedKey] | None = None) -> None:
        self.qvalue_model = QValueModule(action_space=self._check_space(action_space), var_nums=var_nums,
                                         action_value_key=action_value_key, out_keys=out_keys,
                                         action_mask_key=self._check_no_mask(action_mask_key))
        self.action_value_key = self._keyword(self.qvalue_model.in_keys[0])

    def _check_space(self, action_space: Any) -> str:
        owner = type(self).__name__
        if isinstance(action_space, TensorSpec):
            raise ActionSpaceTypeError(f"{owner}: Using specs in action_space is deprecated; pass a string such as "
                                       f"'one_hot' (for a spec, use QValueModule(spec=...))")
        if action_space is None:
            raise ValueError(f"{owner} needs action_space, e.g. 'one_hot' or 'categorical'")
        return action_space

    def _check_no_mask(self, action_mask_key: Any) -> None:
        if action_mask_key is not None:
            raise ValueError(f"{type(self).__name__}: a forward hook only sees the network's output, so it cannot "
                             f"read an action mask; use QValueModule(action_mask_key=...) after the network")
        return None

    @staticmethod
    def _keyword(key: NestedKey) -> str:
        return "_".join(key) if isinstance(key, tuple) else key

    def __call__(self, net: nn.Module, observation: Any, values: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Replace the network's output ``values: [*B, n]`` by ``(action, values, chosen_action_value)``.

        ``action`` is encoded as in `QValueModule.forward`, ``chosen_action_value: [*B, 1]``;
        a `DistributionalQValueHook` maps ``values: [*B, atoms, n] -> (action, values)``.
        """
        return self.qvalue_model(**{self.action_value_key: values})


class DistributionalQValueHook(QValueHook):
    """A forward hook turning value distributions into ``(action, action_values)``.

    Shapes: ``log_p: [*B, atoms, n] -> (action, log_p)``.

    The network must output log-probabilities ``[*B, atoms, actions]`` over `support`.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Unflatten(-1, (2, 4)),
    ...                           torch.nn.LogSoftmax(dim=-2))
    >>> _ = net.register_forward_hook(DistributionalQValueHook("categorical", support=torch.arange(2.0)))
    >>> action, log_p = net(torch.randn(5, 3))
    >>> action.shape, log_p.shape
    (torch.Size([5]), torch.Size([5, 2, 4]))
    """

    def __init__(self, action_space: str, support: torch.Tensor, var_nums: Any = None,
                 action_value_key: NestedKey | None = None, action_mask_key: NestedKey | None = None,
                 out_keys: Sequence[NestedKey] | None = None) -> None:
        self.qvalue_model = DistributionalQValueModule(
            action_space=self._check_space(action_space), support=support, var_nums=var_nums,
            action_value_key=action_value_key, out_keys=out_keys,
            action_mask_key=self._check_no_mask(action_mask_key))
        self.action_value_key = self._keyword(self.qvalue_model.in_keys[0])


# --- actors --------------------------------------------------------------------------------------------------------
def value_network(module: Any, in_keys: Any, value_key: NestedKey, owner: str) -> TensorDictModuleBase:
    """The value part of a Q actor: a tensordict module writing `value_key`.

    A plain ``nn.Module`` is wrapped to read `in_keys` (default ``["observation"]``); that
    wrapper is marked so that the actor may call the network directly (the lean path).
    """
    if isinstance(module, TensorDictModuleBase):
        if value_key not in module.out_keys:
            raise KeyError(f"{owner}: The key '{value_key}' is not part of the module out-keys "
                           f"({module.out_keys}); the module must write the action values there")
        if in_keys is not None and list(in_keys) != list(module.in_keys):
            raise ValueError(f"{owner}: in_keys={in_keys!r} is only used to wrap a plain nn.Module; the tensordict "
                             f"module given reads {module.in_keys}")
        return module
    if not callable(module):
        raise TypeError(f"{owner} `module` must be an nn.Module or a tensordict module, got {type(module).__name__}")
    keys = ["observation"] if in_keys is None else in_keys
    if isinstance(keys, (str, tuple)):
        keys = [keys]
    wrapped = TensorDictModule(module, in_keys=[check_key(k, "in_keys", owner) for k in keys], out_keys=[value_key])
    wrapped._rldsl_direct = True
    return wrapped


def actor_spec(spec: Any, action_key: NestedKey) -> Any:
    """A plain action spec filed under `action_key` (batch shape: its leading dims), as torchrl does."""
    if spec is None or isinstance(spec, Composite) or not isinstance(spec, TensorSpec):
        return spec
    composite = Composite(shape=spec.shape[:-1])
    composite[action_key] = spec
    return composite


class QValueActor(SafeSequential):
    """A value network followed by a `QValueModule`: observation in, greedy action out.

    Writes ``action_value`` (the network's output), ``action`` and ``chosen_action_value``.
    When the network is a plain ``nn.Module`` the actor calls it directly (one tensordict
    read, three writes); parameters are read at each call, as usual.

    Args:
        module: an ``nn.Module`` (wrapped to read `in_keys`) or a tensordict module that
            writes `action_value_key`.

    Keyword Args:
        in_keys: the network's inputs when `module` is a plain module. Default ``["observation"]``.
        spec: the action spec (plain or Composite). action_space: as in `QValueModule`.
        safe, action_mask_key, strict_shape: as in `QValueModule`.
        action_value_key, action_key, chosen_action_value_key: output keys (defaults
            ``"action_value"``, ``"action"``, ``"chosen_action_value"``).

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.specs import Categorical
    >>> actor = QValueActor(torch.nn.Linear(3, 4), spec=Categorical(4))
    >>> actor(TensorDict({"observation": torch.randn(5, 3)}, [5]))["action"].shape
    torch.Size([5])
    """

    def __init__(self, module: Any, *, in_keys: Any = None, spec: TensorSpec | None = None, safe: bool = False,
                 action_space: str | None = None, action_value_key: NestedKey | None = None,
                 action_key: NestedKey | None = None, chosen_action_value_key: NestedKey | None = None,
                 action_mask_key: NestedKey | None = None, strict_shape: bool | str | None = True) -> None:
        owner = type(self).__name__
        value_key = check_key("action_value" if action_value_key is None else action_value_key,
                              "action_value_key", owner)
        action_key = check_key("action" if action_key is None else action_key, "action_key", owner)
        chosen_key = check_key("chosen_action_value" if chosen_action_value_key is None else chosen_action_value_key,
                               "chosen_action_value_key", owner)
        if isinstance(action_space, TensorSpec):
            resolve_action_space(action_space, None, owner=owner)
        network = value_network(module, in_keys, value_key, owner)
        qvalue = QValueModule(action_space=action_space, action_value_key=value_key, action_mask_key=action_mask_key,
                              out_keys=[action_key, value_key, chosen_key], spec=actor_spec(spec, action_key),
                              safe=safe, strict_shape=strict_shape)
        super().__init__(network, qvalue)
        self.action_space = qvalue.action_space
        self.action_value_key = value_key

    def _direct_pair(self) -> tuple[Any, Any] | None:
        """``(network, qvalue)`` when the lean path applies, else None.

        It applies when the network is the plain module this actor wrapped itself, no hooks
        are registered on either part, and the sequence writes in place.
        """
        modules = self._modules["module"]._modules
        if len(modules) != 2 or skip_existing() or self.inplace not in (None, True) or self._select_before_return:
            return None
        network, qvalue = modules.values()
        if (network.__dict__.get("_rldsl_direct") and not (network._forward_hooks or network._forward_pre_hooks
                                                          or qvalue._forward_hooks or qvalue._forward_pre_hooks)):
            return network, qvalue
        return None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the network and the greedy choice: directly for ``actor(td)``, else as a sequence.

        ``observation: [*B, n_obs] -> action_value: [*B, n] -> action`` (``[*B, n]`` one-hot,
        ``[*B]`` index, ... as in `QValueModule.forward`), ``chosen_action_value: [*B, 1]``.

        Every other call form (tensors as arguments, ``tensordict_out``...) goes to
        `TensorDictSequential.forward`, which also takes tensors (``actor(observation)``).
        """
        if len(args) == 1 and not kwargs and isinstance(args[0], TensorDictBase):
            pair = self._direct_pair()
            if pair is not None:
                return self._direct_forward(args[0], *pair)
        return super().forward(*args, **kwargs)

    @staticmethod
    def _direct_forward(tensordict: TensorDictBase, network: TensorDictModule,
                        qvalue: QValueModule) -> TensorDictBase:
        """Read the inputs, call the network, write the values and the greedy choice."""
        inputs = []
        for key in network.in_keys:
            value = read_entry(tensordict, key)
            if value is None:
                raise KeyError(f"QValueActor: the network's input {key!r} is not in the tensordict "
                               f"(keys: {list(tensordict.keys(True, True))})")
            inputs.append(value)
        values = network.module(*inputs)
        write_entry(tensordict, qvalue.in_keys[0], values)
        return qvalue._write(tensordict, values)


class DistributionalQValueActor(QValueActor):
    """A value network, a log-softmax over atoms, and a `DistributionalQValueModule`.

    The network outputs ``[*B, atoms, actions]``; a `DistributionalDQNnet` (log-softmax over
    dim -2) is inserted unless the network already is one or ``make_log_softmax=False``.
    Writes ``action`` and ``action_value`` (the log-probabilities). The action key is
    ``"action"``.

    Shapes: ``observation: [*B, n_obs] -> action_value: [*B, atoms, n]`` (log-probabilities)
    ``-> action: [*B, n]`` one-hot or ``[*B]`` index (as in `QValueModule.forward`).

    Args:
        module: an ``nn.Module`` or a tensordict module writing `action_value_key`.
        support: the atom values, shape ``[atoms]`` (registered as buffer ``support``).
        in_keys, spec, safe, var_nums, action_space, action_value_key, action_mask_key: as in
            `QValueActor` / `DistributionalQValueModule`.
        make_log_softmax: insert the log-softmax. Default True.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.specs import OneHot
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 12), torch.nn.Unflatten(-1, (3, 4)))
    >>> actor = DistributionalQValueActor(net, support=torch.arange(3), spec=OneHot(4))
    >>> td = actor(TensorDict({"observation": torch.randn(5, 4)}, [5]))
    >>> td["action"].shape, td["action_value"].shape
    (torch.Size([5, 4]), torch.Size([5, 3, 4]))
    """

    def __init__(self, module: Any, support: torch.Tensor, in_keys: Any = None, spec: TensorSpec | None = None,
                 safe: bool = False, var_nums: Any = None, action_space: str | None = None,
                 action_value_key: NestedKey = "action_value", action_mask_key: NestedKey | None = None,
                 make_log_softmax: bool = True) -> None:
        owner = type(self).__name__
        value_key = check_key(action_value_key, "action_value_key", owner)
        if isinstance(action_space, TensorSpec):
            resolve_action_space(action_space, None, owner=owner)
        require_bool(make_log_softmax, f"{owner} `make_log_softmax`")
        support = check_support(support, owner)
        network = value_network(module, in_keys, value_key, owner)
        qvalue = DistributionalQValueModule(action_space=action_space, support=support, action_value_key=value_key,
                                            action_mask_key=action_mask_key, out_keys=["action", value_key],
                                            var_nums=var_nums, spec=actor_spec(spec, "action"), safe=safe)
        modules = [network]
        if make_log_softmax and not isinstance(module, DistributionalDQNnet):
            modules.append(DistributionalDQNnet(in_keys=[value_key], out_keys=[value_key]))
        SafeSequential.__init__(self, *modules, qvalue)
        self.action_space = qvalue.action_space
        self.action_value_key = value_key
        self.make_log_softmax = make_log_softmax
        self.register_buffer("support", support)

    def _direct_pair(self) -> None:
        """Always run as a sequence (network, log-softmax, distributional choice)."""
        return None

"""Exploration modules: ε-greedy, additive Gaussian and Ornstein-Uhlenbeck noise.

Each module reads the action a policy already wrote and replaces it by a noisier one.
Put it after the policy in a `TensorDictSequential` (or use the ``*Wrapper`` classes,
which build that sequence). The modules are active when the exploration type is
``RANDOM`` or unset (``interaction_type() is None``, as outside any
``set_exploration_type`` block) and are the identity otherwise.

Every module has an annealed factor (ε or σ) kept in a float32 buffer and updated only by
an explicit ``step(frames=1)``: ``f <- max(f_end, f - (f_init - f_end) / annealing_num_steps)``
once per frame, exactly in float32 (``1.0 -> 0.70000005 -> 0.40000007 -> 0.10000008 -> 0.1``
for ``eps_init=1.0, eps_end=0.1, annealing_num_steps=3``).

>>> import torch
>>> from tensordict import TensorDict
>>> from rldsl.specs import OneHot
>>> explore = EGreedyModule(OneHot(4), eps_init=1.0, eps_end=0.1, annealing_num_steps=3)
>>> explore.step(); round(float(explore.eps), 8)
0.70000005
"""

from __future__ import annotations

import math
import warnings
from numbers import Number
from typing import Any

import numpy as np
import torch
from tensordict import TensorDictBase
from tensordict.nn import InteractionType, TensorDictModuleBase
from tensordict.utils import NestedKey

from rldsl._checks import require_bool, require_int, require_non_negative, require_positive
from rldsl.modules.tensordict_module._entries import check_key, read_entry, write_entry
from rldsl.modules.tensordict_module.common import SpecOwner
from rldsl.modules.tensordict_module.sequence import SafeSequential
from rldsl.modules.utils import ArgumentError
from rldsl.specs import Binary, Categorical, Composite, MultiCategorical, MultiOneHot, OneHot, TensorSpec
from rldsl.specs._base import has_values

try:
    from tensordict.nn import interaction_type
except ImportError:  # tensordict 0.14 keeps it in the probabilistic module only
    from tensordict.nn.probabilistic import interaction_type

__all__ = [
    "AdditiveGaussianModule",
    "AdditiveGaussianWrapper",
    "EGreedyModule",
    "OrnsteinUhlenbeckProcessModule",
    "OrnsteinUhlenbeckProcessWrapper",
]

_NOISE_KEY = "_ou_prev_noise"
_STEPS_KEY = "_ou_steps"
_MASKABLE = (OneHot, Categorical, MultiOneHot, MultiCategorical)


# --- shared helpers --------------------------------------------------------------------------------
_RANDOM = InteractionType.RANDOM


def exploration_active() -> bool:
    """True under ``ExplorationType.RANDOM`` and when no exploration type is set (torchrl's rule)."""
    kind = interaction_type()
    return kind is None or kind is _RANDOM or kind == _RANDOM


def check_number(value: Any, argument: str, owner: str) -> float:
    """A finite real number (a Python number or a one-element tensor), as a float."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype.is_complex:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Number) or isinstance(value, complex):
        raise TypeError(f"{owner} `{argument}` must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner} `{argument}` must be finite, got {value}")
    return value


def check_schedule(init: Any, end: Any, name: str, owner: str, *, probability: bool = False) -> tuple[float, float]:
    """Validate an annealing range ``(name_init, name_end)``: it may only decrease."""
    init = check_number(init, f"{name}_init", owner)
    end = check_number(end, f"{name}_end", owner)
    if probability:
        for value, argument in ((init, f"{name}_init"), (end, f"{name}_end")):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{owner} `{argument}` is a probability and must lie in [0, 1], got {value}")
    if end > init:
        raise ArgumentError(
            f"{owner}: {name} should decrease over time or be constant, got {name}_init={init} and "
            f"{name}_end={end}; pass {name}_end <= {name}_init"
        )
    return init, end


def check_annealing_steps(value: Any, owner: str, argument: str = "annealing_num_steps") -> int:
    """A number of annealing steps: an int >= 0 (0 means that `step()` may not be called)."""
    require_int(value, f"{owner} `{argument}`")
    return require_non_negative(value, f"{owner} `{argument}`")


def anneal(current: torch.Tensor, init: torch.Tensor, end: torch.Tensor, num_steps: int, frames: Any,
           owner: str) -> None:
    """Apply ``frames`` annealing steps to the buffer `current`, in place.

    Each step is ``max(end, current - (init - end) / num_steps)`` in float32, so the values
    are bit-for-bit those of the step-by-step rule; the loop stops once `end` is reached
    (further steps cannot change it). Computed on the CPU: one copy per call, not per frame.
    """
    require_int(frames, f"{owner}.step: `frames`")
    require_non_negative(frames, f"{owner}.step: `frames`")
    if num_steps <= 0:
        raise ValueError(
            f"{owner}.step() called with annealing_num_steps={num_steps}; build the module with "
            f"annealing_num_steps > 0 to anneal, or do not call step()"
        )
    value, low = current.detach().cpu(), end.detach().cpu()
    decrement = (init.detach().cpu() - low) / num_steps
    for _ in range(frames):
        value = torch.maximum(low, value - decrement)
        if bool(value <= low) or not bool(decrement > 0):
            break
    current.data.copy_(value)


def wrap_spec(spec: Any, action_key: NestedKey, owner: str) -> Composite | None:
    """The module's `Composite` spec: a plain spec is filed under `action_key` (copied, never shared)."""
    if spec is None:
        return None
    if isinstance(spec, Composite):
        composite = spec.clone()
    elif isinstance(spec, TensorSpec):
        composite = Composite(shape=spec.shape[:-1])
        composite[action_key] = spec.clone()
    else:
        raise TypeError(
            f"{owner} `spec` must be an rldsl spec (e.g. rldsl.specs.OneHot(4)) or None, got {type(spec).__name__}"
        )
    if action_key not in composite:
        raise KeyError(
            f"{owner}: the Composite spec has no entry for the action key {action_key!r}; "
            f"entries: {composite.keys(True, True)}. Pass the action's own spec or set action_key"
        )
    return composite


def action_parent(tensordict: TensorDictBase, key: NestedKey) -> tuple[TensorDictBase, str]:
    """The tensordict holding `key` and the key's last part (one random draw per element of it)."""
    if isinstance(key, tuple):
        return (tensordict.get(key[:-1]) if len(key) > 1 else tensordict), key[-1]
    return tensordict, key


def read_action(parent: TensorDictBase, leaf: str, key: NestedKey, owner: str) -> torch.Tensor:
    """The action to explore around (a clear KeyError when the policy did not write it)."""
    action = read_entry(parent, leaf)
    if action is None:
        raise KeyError(f"{owner}: no action at {key!r}; place the exploration module after the policy that "
                       f"writes it (keys: {list(parent.keys(True, True))})")
    return action


def expand_right(value: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """`value` (leading dims of `shape`) broadcast over the trailing dims of `shape`."""
    return value.reshape(value.shape + (1,) * (len(shape) - value.ndim)).expand(shape)


def check_action_fits(spec: TensorSpec, action: torch.Tensor, owner: str) -> None:
    """The action must end with the spec's shape (leading dims are batch dims)."""
    if spec.ndim and action.shape[-spec.ndim:] != spec.shape:
        raise ValueError(
            f"{owner}: Action spec shape does not match the action shape: the action has shape "
            f"{tuple(action.shape)}, which does not end with the spec's shape {tuple(spec.shape)}"
        )


# --- masked random actions --------------------------------------------------------------------------
def uniform_allowed(mask: torch.Tensor) -> torch.Tensor:
    """A uniformly drawn index among the True entries of each row of `mask` (last dim).

    A mask without values (``meta``) is not checked: the draw then has the right shape only.
    """
    if mask.numel() and has_values(mask) and not bool(mask.any(-1).all()):
        raise ValueError("the action mask forbids every action in some row; each row needs at least one True")
    scores = torch.rand(mask.shape, device=mask.device).masked_fill_(~mask, -1.0)
    return scores.argmax(-1)


def broadcast_mask(mask: Any, shape: tuple, device: torch.device, key: NestedKey, owner: str) -> torch.Tensor:
    """The mask read at `key`, checked (a bool tensor) and broadcast to `shape` on `device`."""
    if not isinstance(mask, torch.Tensor) or mask.dtype is not torch.bool:
        kind = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"{owner}: the action mask at {key!r} must be a bool tensor (True = allowed), got {kind}")
    try:
        return mask.to(device).broadcast_to(shape)
    except RuntimeError:
        raise ValueError(
            f"{owner}: the action mask at {key!r} has shape {tuple(mask.shape)}, which does not fit "
            f"the expected shape {tuple(shape)}"
        ) from None


def masked_random_action(spec: TensorSpec, mask: Any, action: torch.Tensor, key: NestedKey,
                         owner: str) -> torch.Tensor:
    """A uniform allowed action of `spec` for every batch element, without touching `spec`.

    The mask is laid out as the spec's own: like the action for one-hot specs, with a last
    dim of ``n`` for `Categorical`, of ``sum(nvec)`` for `MultiCategorical`.
    """
    device = action.device
    if isinstance(spec, OneHot):
        rows = broadcast_mask(mask, action.shape, device, key, owner)
        return torch.nn.functional.one_hot(uniform_allowed(rows), spec.n).to(action.dtype)
    if isinstance(spec, Categorical):
        rows = broadcast_mask(mask, (*action.shape, spec.n), device, key, owner)
        return uniform_allowed(rows).to(action.dtype)
    if isinstance(spec, MultiOneHot):
        rows = broadcast_mask(mask, action.shape, device, key, owner)
        blocks = [torch.nn.functional.one_hot(uniform_allowed(block), n)
                  for block, n in zip(rows.split(spec.nvec, -1), spec.nvec)]
        return torch.cat(blocks, -1).to(action.dtype)
    sizes = spec._row_nvec()  # MultiCategorical: the cardinality of each variable
    rows = broadcast_mask(mask, (*action.shape[:-1], sum(sizes)), device, key, owner)
    return torch.stack([uniform_allowed(block) for block in rows.split(sizes, -1)], -1).to(action.dtype)


# --- ε-greedy ------------------------------------------------------------------------------------------
class EGreedyModule(SpecOwner, TensorDictModuleBase):
    """ε-greedy exploration: with probability ε, replace the action by a random one from the spec.

    One coin is flipped per element of the tensordict that holds the action (one per
    environment step), not per action entry: a one-hot row or a multi-dimensional action is
    replaced as a whole. With `action_mask_key`, random actions are drawn among the allowed
    ones only (the mask is read from the tensordict on each call; the spec is never changed).
    The written action keeps the incoming action's dtype.

    Args:
        spec: the action spec (a plain spec, filed under `action_key`, or a `Composite`).
            May be ``None`` at construction and set later through ``module.spec = ...``.
        eps_init: initial ε, in [0, 1]. Default 1.0.
        eps_end: final ε, in [0, eps_init]. Default 0.1.
        annealing_num_steps: number of `step()` calls to go from `eps_init` to `eps_end`.

    Keyword Args:
        action_key: where the action is read and written. Default ``"action"``.
        action_mask_key: where a boolean action mask is read (True = allowed). Default None.
        device: device of the ε buffers and of the spec.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.specs import Categorical
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> explore = EGreedyModule(Categorical(4), eps_init=1.0, action_mask_key="action_mask")
    >>> td = TensorDict({"action": torch.zeros(6, dtype=torch.long),
    ...                  "action_mask": torch.tensor([False, False, True, False]).expand(6, 4)}, [6])
    >>> explore(td)["action"].tolist()
    [2, 2, 2, 2, 2, 2]
    """

    def __init__(self, spec: TensorSpec | None, eps_init: float = 1.0, eps_end: float = 0.1,
                 annealing_num_steps: int = 1000, *, action_key: NestedKey = "action",
                 action_mask_key: NestedKey | None = None, device: Any = None) -> None:
        owner = type(self).__name__
        init, end = check_schedule(eps_init, eps_end, "eps", owner, probability=True)
        steps = check_annealing_steps(annealing_num_steps, owner)
        super().__init__()
        self.action_key = check_key(action_key, "action_key", owner)
        self.action_mask_key = None if action_mask_key is None else check_key(action_mask_key, "action_mask_key", owner)
        self.in_keys = [self.action_key] + ([self.action_mask_key] if self.action_mask_key is not None else [])
        self.out_keys = [self.action_key]
        self.annealing_num_steps = steps
        self.register_buffer("eps_init", torch.tensor(init, dtype=torch.float32, device=device))
        self.register_buffer("eps_end", torch.tensor(end, dtype=torch.float32, device=device))
        self.register_buffer("eps", torch.tensor(init, dtype=torch.float32, device=device))
        self.spec = spec if device is None or spec is None else spec.to(device)

    @property
    def spec(self) -> Composite | None:
        """The `Composite` spec (the action's spec under `action_key`), or None when unset."""
        return self._spec

    @spec.setter
    def spec(self, spec: TensorSpec | None) -> None:
        composite = wrap_spec(spec, self.action_key, type(self).__name__)
        leaf = None if composite is None else composite[self.action_key]
        if leaf is not None and self.action_mask_key is not None and (
                not isinstance(leaf, _MASKABLE) or isinstance(leaf, Binary)):
            raise TypeError(
                f"EGreedyModule: action_mask_key needs a maskable discrete spec (OneHot, Categorical, "
                f"MultiOneHot, MultiCategorical), got {type(leaf).__name__}; use MultiCategorical([2, ...]) "
                f"for maskable bits, or drop action_mask_key"
            )
        self._spec = composite
        self._action_spec = leaf

    def step(self, frames: int = 1) -> None:
        """Anneal ε by `frames` steps (see the module docstring for the exact rule)."""
        anneal(self.eps, self.eps_init, self.eps_end, self.annealing_num_steps, frames, type(self).__name__)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Replace the action by a random one with probability ε per batch element (when exploring).

        ``action: [*B, *A] -> action: [*B, *A]``, same dtype (``A``: the spec's shape, ``[n]``
        one-hot, ``[]`` categorical; ``*B``: the batch dims of the tensordict holding the
        action, one coin each). ``action_mask`` is laid out as the spec's: ``[*B, n]`` bool.
        """
        if not exploration_active():
            return tensordict
        spec = self._action_spec
        if spec is None:
            raise RuntimeError(
                "spec must be provided to the exploration wrapper. EGreedyModule has no action spec: pass "
                "spec= at construction or set module.spec = env.action_spec"
            )
        key = self.action_key
        parent, leaf = (tensordict, key) if type(key) is str else action_parent(tensordict, key)
        action = read_action(parent, leaf, key, "EGreedyModule")
        eps = self._buffers["eps"]
        if eps.device != action.device:
            eps = eps.to(action.device)
        # One coin per element of the action's tensordict, shaped to broadcast over the action's own dims.
        batch_size = parent.batch_size
        coin_shape = (*batch_size, *(1,) * (action.ndim - len(batch_size)))
        flips = torch.rand(coin_shape, device=action.device) < eps
        write_entry(parent, leaf, torch.where(flips, self._random_action(tensordict, spec, action), action))
        return tensordict

    def _random_action(self, tensordict: TensorDictBase, spec: TensorSpec, action: torch.Tensor) -> torch.Tensor:
        """A random action for every batch element (allowed by the mask when there is one)."""
        check_action_fits(spec, action, type(self).__name__)
        if self.action_mask_key is not None:
            mask = read_entry(tensordict, self.action_mask_key)
            if mask is None:
                raise KeyError(
                    f"EGreedyModule: action mask key {self.action_mask_key!r} not found in the tensordict "
                    f"(keys: {list(tensordict.keys(True, True))})"
                )
            return masked_random_action(spec, mask, action, self.action_mask_key, type(self).__name__)
        if type(spec) is OneHot and spec.mask is None:  # the hot path: one-hot rows in the action's dtype
            index = torch.randint(0, spec.n, (*action.shape[:-1], 1), device=action.device)
            return torch.zeros_like(action).scatter_(-1, index, 1)
        random_action = spec.rand(action.shape[: action.ndim - spec.ndim])
        if random_action.device != action.device:
            random_action = random_action.to(action.device)
        return random_action if random_action.dtype is action.dtype else random_action.to(action.dtype)

    def _spec_moved(self) -> None:
        """The spec followed the module to another device: refresh the action's leaf."""
        self._action_spec = self._spec[self.action_key]


# --- additive Gaussian noise ---------------------------------------------------------------------------
def check_continuous(spec: TensorSpec | None, owner: str) -> None:
    """Noise is added to real-valued actions only."""
    if spec is not None and (getattr(spec, "domain", None) != "continuous" or not spec.dtype.is_floating_point):
        raise TypeError(
            f"{owner} adds real-valued noise and needs a continuous action spec (Bounded or Unbounded with a "
            f"float dtype), got {type(spec).__name__}; use EGreedyModule for discrete actions"
        )


class AdditiveGaussianModule(SpecOwner, TensorDictModuleBase):
    """Additive Gaussian exploration: ``action + σ · N(mean, std)``, projected into the spec.

    σ is annealed from `sigma_init` to `sigma_end` by `step()`. The noisy action is always
    projected into the action spec (a clamp for `Bounded`, nothing for `Unbounded`), so it
    stays a valid action; ``safe`` is accepted for torchrl compatibility and changes nothing.

    Args:
        spec: the continuous action spec; may be None at construction and set later
            (``module.spec = env.action_spec``) before the first call.
        sigma_init, sigma_end: the noise scale range (``sigma_end <= sigma_init``).
        annealing_num_steps: number of `step()` calls from `sigma_init` to `sigma_end`.
        mean, std: parameters of the normal noise. Defaults 0.0 and 1.0.

    Keyword Args:
        action_key: where the action is read and written. Default ``"action"``.
        safe: accepted for compatibility (the projection always happens). Default False.
        device: device of the buffers and of the spec.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.specs import Bounded
    >>> explore = AdditiveGaussianModule(Bounded(-1.0, 1.0, shape=(2,)), sigma_init=5.0, sigma_end=1.0)
    >>> td = explore(TensorDict({"action": torch.zeros(100, 2)}, [100]))
    >>> bool(td["action"].abs().max() <= 1.0)
    True
    """

    def __init__(self, spec: TensorSpec | None = None, sigma_init: float = 1.0, sigma_end: float = 0.1,
                 annealing_num_steps: int = 1000, mean: float = 0.0, std: float = 1.0, *,
                 action_key: NestedKey = "action", safe: bool = False, device: Any = None) -> None:
        owner = type(self).__name__
        init, end = check_schedule(sigma_init, sigma_end, "sigma", owner)
        steps = check_annealing_steps(annealing_num_steps, owner)
        mean, std = check_number(mean, "mean", owner), check_number(std, "std", owner)
        require_non_negative(std, f"{owner} `std`")
        require_bool(safe, f"{owner} `safe`")
        super().__init__()
        self.action_key = check_key(action_key, "action_key", owner)
        self.in_keys = [self.action_key]
        self.out_keys = [self.action_key]
        self.annealing_num_steps = steps
        self.safe = safe
        self._project = True
        for name, value in (("sigma_init", init), ("sigma_end", end), ("mean", mean), ("std", std), ("sigma", init)):
            self.register_buffer(name, torch.tensor(value, dtype=torch.float32, device=device))
        self.spec = spec if device is None or spec is None else spec.to(device)

    @property
    def spec(self) -> Composite | None:
        """The `Composite` spec (the action's spec under `action_key`), or None when unset."""
        return self._spec

    @spec.setter
    def spec(self, spec: TensorSpec | None) -> None:
        composite = wrap_spec(spec, self.action_key, type(self).__name__)
        leaf = None if composite is None else composite[self.action_key]
        check_continuous(leaf, type(self).__name__)
        self._spec = composite
        self._action_spec = leaf

    def step(self, frames: int = 1) -> None:
        """Anneal σ by `frames` steps (``max(sigma_end, sigma - (sigma_init - sigma_end) / annealing_num_steps)``)."""
        anneal(self.sigma, self.sigma_init, self.sigma_end, self.annealing_num_steps, frames, type(self).__name__)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Add σ-scaled Gaussian noise to the action and project it into the spec (when exploring).

        ``action: [*B, d] -> action: [*B, d]`` (noise of the action's shape).
        """
        if not exploration_active():
            return tensordict
        spec = self._action_spec
        if spec is None and self._project:
            raise RuntimeError(
                "AdditiveGaussianModule: spec has not been set; pass spec= at construction or set "
                "module.spec = env.action_spec before the first call"
            )
        parent, leaf = action_parent(tensordict, self.action_key)
        action = read_action(parent, leaf, self.action_key, "AdditiveGaussianModule")
        device = action.device
        mean, std, sigma = (buffer if buffer.device == device else buffer.to(device)
                            for buffer in (self.mean, self.std, self.sigma))
        noise = torch.normal(mean.expand(action.shape), std.expand(action.shape))
        noisy = action + noise * sigma
        write_entry(parent, leaf, noisy if spec is None else spec.project(noisy))
        return tensordict

    def _spec_moved(self) -> None:
        """The spec followed the module to another device: refresh the action's leaf."""
        self._action_spec = self._spec[self.action_key]


# --- Ornstein-Uhlenbeck noise ---------------------------------------------------------------------------
def align_is_init(is_init: torch.Tensor, batch_size: torch.Size, key: NestedKey, owner: str) -> torch.Tensor:
    """Bring ``is_init`` (shaped like the done spec) to the batch shape of the action's tensordict.

    A trailing singleton is dropped; fewer dims are broadcast to the right; extra dims are
    reduced with "any" (a sub-element that restarts restarts the whole element).
    """
    if is_init.ndim > 1 and is_init.shape[-1] == 1:
        is_init = is_init.squeeze(-1)
    is_init = is_init.bool()
    if is_init.ndim <= len(batch_size):
        try:
            return expand_right(is_init, batch_size)
        except RuntimeError:
            pass
    else:
        is_init = is_init.flatten(len(batch_size)).any(-1)
    if is_init.shape != batch_size:
        raise ValueError(
            f"{owner}: '{key}' has a shape that does not fit the action's tensordict: got "
            f"{tuple(is_init.shape)} for a batch of {tuple(batch_size)}"
        )
    return is_init


def as_x0(x0: Any, owner: str) -> torch.Tensor:
    """The OU process offset as a float tensor (0 when None)."""
    if x0 is None:
        return torch.zeros(())
    if isinstance(x0, np.ndarray):
        x0 = torch.from_numpy(x0)
    if isinstance(x0, torch.Tensor):
        return x0.detach().to(torch.get_default_dtype()).clone()
    return torch.tensor(check_number(x0, "x0", owner), dtype=torch.get_default_dtype())


class OrnsteinUhlenbeckProcessModule(SpecOwner, TensorDictModuleBase):
    r"""Ornstein-Uhlenbeck exploration (DDPG): temporally correlated noise added to the action.

    Per call, with ``x = prev_noise + x0``:
    ``noise = x + theta * (mu - x) * dt + sigma_t * sqrt(dt) * N(0, 1)``, where
    ``sigma_t = max(sigma_min, sigma - (sigma - sigma_min) * steps / n_steps_annealing)``
    (constant ``sigma`` when `sigma_min` is None); the action becomes ``action + eps * noise``.
    The process state lives in the tensordict (``"_ou_prev_noise"``, ``"_ou_steps"``), so
    collectors carry it from step to step; it restarts where ``is_init`` is True (add an
    ``InitTracker`` transform to the env). `eps` is annealed by `step()`.

    Args:
        spec: the continuous action spec (needed to project when `safe` is True).
        eps_init, eps_end, annealing_num_steps: the annealed noise factor.
        theta, mu, sigma, dt, x0, sigma_min, n_steps_annealing: the OU process parameters.

    Keyword Args:
        action_key: where the action is read and written. Default ``"action"``.
        is_init_key: where the trajectory-start flags are read. Default ``"is_init"``.
        safe: project the noisy action into the spec. Default True.
        device: device of the buffers and of the spec.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.specs import Bounded
    >>> ou = OrnsteinUhlenbeckProcessModule(Bounded(-1.0, 1.0, shape=(2,)))
    >>> td = TensorDict({"action": torch.zeros(3, 2), "is_init": torch.ones(3, 1, dtype=torch.bool)}, [3])
    >>> td = ou(td)
    >>> td["_ou_steps"].tolist()
    [1, 1, 1]
    """

    def __init__(self, spec: TensorSpec | None, eps_init: float = 1.0, eps_end: float = 0.1,
                 annealing_num_steps: int = 1000, theta: float = 0.15, mu: float = 0.0, sigma: float = 0.2,
                 dt: float = 1e-2, x0: Any = None, sigma_min: float | None = None, n_steps_annealing: int = 1000,
                 *, action_key: NestedKey = "action", is_init_key: NestedKey = "is_init", safe: bool = True,
                 device: Any = None) -> None:
        owner = type(self).__name__
        init, end = check_schedule(eps_init, eps_end, "eps", owner)
        steps = check_annealing_steps(annealing_num_steps, owner)
        require_bool(safe, f"{owner} `safe`")
        if spec is None and safe:
            raise ArgumentError(
                f"{owner}: spec cannot be None when safe=True (the noisy action is projected into it); "
                f"pass spec=env.action_spec, or safe=False to add noise without projecting"
            )
        super().__init__()
        self._set_process(theta, mu, sigma, dt, sigma_min, n_steps_annealing, owner)
        self.action_key = check_key(action_key, "action_key", owner)
        self.is_init_key = check_key(is_init_key, "is_init_key", owner)
        self.in_keys = [self.action_key]
        self.out_keys = [self.action_key, _NOISE_KEY, _STEPS_KEY]
        self.annealing_num_steps = steps
        self.safe = safe
        self.register_buffer("eps_init", torch.tensor(init, dtype=torch.float32, device=device))
        self.register_buffer("eps_end", torch.tensor(end, dtype=torch.float32, device=device))
        self.register_buffer("eps", torch.tensor(init, dtype=torch.float32, device=device))
        # Configuration like theta and sigma, but a tensor so that it follows .to(device); not in state_dict.
        self.register_buffer("x0", as_x0(x0, owner).to(device) if device is not None else as_x0(x0, owner),
                             persistent=False)
        self.spec = spec if device is None or spec is None else spec.to(device)

    def _set_process(self, theta: Any, mu: Any, sigma: Any, dt: Any, sigma_min: Any, n_steps_annealing: Any,
                     owner: str) -> None:
        """Validate and store the OU parameters (plain floats: configuration, not learned)."""
        self.theta = check_number(theta, "theta", owner)
        self.mu = check_number(mu, "mu", owner)
        self.sigma = check_number(sigma, "sigma", owner)
        self.dt = check_number(dt, "dt", owner)
        require_positive(self.dt, f"{owner} `dt`")
        self.n_steps_annealing = check_annealing_steps(n_steps_annealing, owner, "n_steps_annealing")
        if sigma_min is None:
            self.sigma_min, self._sigma_slope = self.sigma, 0.0
        else:
            self.sigma_min = check_number(sigma_min, "sigma_min", owner)
            if self.n_steps_annealing == 0:
                raise ValueError(f"{owner} `n_steps_annealing` must be > 0 when sigma_min is given")
            self._sigma_slope = -(self.sigma - self.sigma_min) / self.n_steps_annealing

    @property
    def spec(self) -> Composite | None:
        """The `Composite` spec: the action's spec, and `None` for the two OU state keys."""
        return self._spec

    @spec.setter
    def spec(self, spec: TensorSpec | None) -> None:
        owner = type(self).__name__
        if spec is None and self.safe:
            raise ArgumentError(f"{owner}: spec cannot be None when safe=True; pass a spec or set safe=False")
        composite = wrap_spec(spec, self.action_key, owner) if spec is not None else Composite()
        leaf = composite.get(self.action_key)
        check_continuous(leaf, owner)
        for key in self.out_keys:
            if key not in composite:
                composite[key] = None
        self._spec = composite
        self._action_spec = leaf

    @property
    def noise_key(self) -> str:
        """The key of the process state (the previous noise)."""
        return _NOISE_KEY

    @property
    def steps_key(self) -> str:
        """The key of the per-element step counters (drive the σ annealing)."""
        return _STEPS_KEY

    def step(self, frames: int = 1) -> None:
        """Anneal the noise factor `eps` by `frames` steps."""
        anneal(self.eps, self.eps_init, self.eps_end, self.annealing_num_steps, frames, type(self).__name__)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Advance the OU process one step and add its value to the action (when exploring).

        ``action: [*B, d]``, ``is_init: [*B, 1]`` bool ``-> action: [*B, d]``,
        ``_ou_prev_noise: [*B, d]``, ``_ou_steps: [*B]`` int64 (``*B``: the batch dims of the
        tensordict holding the action).
        """
        if not exploration_active():
            return tensordict
        is_init = tensordict.get(self.is_init_key, None)
        if is_init is None:
            warnings.warn(
                f"The tensordict passed to {type(self).__name__} has no '{self.is_init_key}' entry, which "
                f"restarts the noise at the start of each trajectory; without it the process never restarts. "
                f"Add an InitTracker transform to the environment (env = TransformedEnv(env, InitTracker())).",
                UserWarning,
                stacklevel=2,
            )
        parent, leaf = action_parent(tensordict, self.action_key)
        action = read_action(parent, leaf, self.action_key, type(self).__name__)
        prev_noise, steps = self._state(tensordict, parent.batch_size, action, is_init)
        x0 = self.x0 if self.x0.device == action.device else self.x0.to(action.device)
        x = prev_noise + x0
        sigma_t = (self._sigma_slope * steps + self.sigma).clamp_min(self.sigma_min)
        noise = (x + self.theta * (self.mu - x) * self.dt
                 + expand_right(sigma_t, x.shape) * math.sqrt(self.dt) * torch.randn_like(x))
        eps = self.eps if self.eps.device == action.device else self.eps.to(action.device)
        action = action + eps * noise
        if self.safe and self._action_spec is not None:
            action = self._action_spec.project(action)
        write_entry(tensordict, _NOISE_KEY, noise - x0)
        write_entry(parent, leaf, action)
        write_entry(tensordict, _STEPS_KEY, steps + 1)
        return tensordict

    def _state(self, tensordict: TensorDictBase, batch_size: torch.Size, action: torch.Tensor,
               is_init: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The previous noise and step counters, restarted (zeros) where ``is_init`` is True."""
        prev_noise = read_entry(tensordict, _NOISE_KEY)
        steps = read_entry(tensordict, _STEPS_KEY)
        if prev_noise is None or steps is None:
            prev_noise = torch.zeros(action.shape, dtype=action.dtype, device=action.device)  # the action's dtype
            steps = torch.zeros(batch_size, dtype=torch.long, device=action.device)
        if is_init is not None:
            restart = align_is_init(is_init.to(action.device), batch_size, self.is_init_key, type(self).__name__)
            prev_noise = prev_noise.masked_fill(expand_right(restart, prev_noise.shape), 0.0)
            steps = steps.masked_fill(restart, 0)
        return prev_noise, steps

    def _spec_moved(self) -> None:
        """The spec followed the module to another device: refresh the action's leaf."""
        self._action_spec = self._spec.get(self.action_key)


# --- the wrappers of older torchrl versions ----------------------------------------------------------------
def policy_action_spec(policy: Any, action_key: NestedKey, spec: Any, owner: str) -> TensorSpec | None:
    """The spec to explore with: the one given, else the policy's spec at `action_key` (maybe None)."""
    if not isinstance(policy, TensorDictModuleBase):
        raise TypeError(
            f"{owner} wraps a tensordict policy (a TensorDictModuleBase such as Actor or "
            f"ProbabilisticActor), got {type(policy).__name__}"
        )
    if action_key not in policy.out_keys:
        raise ValueError(
            f"{owner}: the policy does not write the action key {action_key!r} (its out_keys are "
            f"{policy.out_keys}); pass action_key= with the key the policy writes"
        )
    if spec is not None:
        return spec[action_key] if isinstance(spec, Composite) else spec
    policy_spec = getattr(policy, "spec", None)
    if isinstance(policy_spec, Composite):
        return policy_spec.get(action_key)
    return policy_spec if isinstance(policy_spec, TensorSpec) else None


def forwarded(name: str, doc: str) -> property:
    """A read-only property returning the exploration module's attribute `name` (wrappers forward them)."""
    return property(lambda self: getattr(self.module[-1], name), doc=doc)


class _ExplorationWrapper(SafeSequential):
    """A policy followed by an exploration module; `step()` anneals the exploration module."""

    @property
    def td_module(self) -> TensorDictModuleBase:
        """The wrapped policy."""
        return self.module[0]

    @property
    def exploration_module(self) -> TensorDictModuleBase:
        """The exploration module run after the policy."""
        return self.module[-1]

    action_key = forwarded("action_key", "The key of the explored action.")
    annealing_num_steps = forwarded("annealing_num_steps", "Number of `step()` calls of the annealing schedule.")

    def step(self, frames: int = 1) -> None:
        """Anneal the exploration factor by `frames` steps (forwarded to the exploration module)."""
        self.module[-1].step(frames)


class AdditiveGaussianWrapper(_ExplorationWrapper):
    """A policy followed by an `AdditiveGaussianModule` (torchrl's removed wrapper, working).

    The spec defaults to the policy's spec at `action_key`. Without any spec the noise is
    added without projection, which needs ``safe=False`` (``safe=True`` asks for a spec).
    Shapes: the policy's (e.g. ``observation: [*B, n_obs] -> action: [*B, d]``), then
    ``action: [*B, d] -> action: [*B, d]`` with noise.

    Args:
        policy: the tensordict policy writing `action_key`.

    Keyword Args:
        sigma_init, sigma_end, annealing_num_steps, mean, std: as in `AdditiveGaussianModule`.
        action_key: the action's key. Default ``"action"``.
        spec: the action spec (overrides the policy's).
        safe: require a spec to project into. Default True.
        device: device of the exploration buffers.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.modules.tensordict_module.common import SafeModule
    >>> from rldsl.specs import Bounded
    >>> policy = SafeModule(torch.nn.Linear(3, 2), in_keys=["observation"], out_keys=["action"],
    ...                     spec=Bounded(-1.0, 1.0, shape=(2,)))
    >>> explorative = AdditiveGaussianWrapper(policy, sigma_init=0.5, sigma_end=0.1, annealing_num_steps=4)
    >>> td = explorative(TensorDict({"observation": torch.randn(5, 3)}, [5]))
    >>> bool(td["action"].abs().max() <= 1.0)
    True
    >>> explorative.step(2); round(float(explorative.sigma), 4)
    0.3
    """

    def __init__(self, policy: TensorDictModuleBase, *, sigma_init: float = 1.0, sigma_end: float = 0.1,
                 annealing_num_steps: int = 1000, mean: float = 0.0, std: float = 1.0,
                 action_key: NestedKey = "action", spec: TensorSpec | None = None, safe: bool = True,
                 device: Any = None) -> None:
        owner = type(self).__name__
        action_key = check_key(action_key, "action_key", owner)
        action_spec = policy_action_spec(policy, action_key, spec, owner)
        if action_spec is None and safe:
            raise ArgumentError(
                f"{owner}: the action spec must be provided (spec=..., or a policy with a spec) unless "
                f"safe=False, which adds the noise without projecting it"
            )
        explore = AdditiveGaussianModule(action_spec, sigma_init, sigma_end, annealing_num_steps, mean, std,
                                         action_key=action_key, safe=bool(safe), device=device)
        explore._project = action_spec is not None
        super().__init__(policy, explore)

    sigma = forwarded("sigma", "The current noise scale σ.")
    sigma_init = forwarded("sigma_init", "The initial noise scale.")
    sigma_end = forwarded("sigma_end", "The final noise scale.")


class OrnsteinUhlenbeckProcessWrapper(_ExplorationWrapper):
    """A policy followed by an `OrnsteinUhlenbeckProcessModule` (torchrl's removed wrapper, working).

    The spec defaults to the policy's spec at `action_key`; ``safe=False`` allows none.
    `key` is the older name of `action_key`. Shapes: the policy's (e.g.
    ``observation: [*B, n_obs] -> action: [*B, d]``), then those of
    `OrnsteinUhlenbeckProcessModule.forward`.

    Args:
        policy: the tensordict policy writing `action_key`.

    Keyword Args:
        eps_init, eps_end, annealing_num_steps, theta, mu, sigma, dt, x0, sigma_min,
        n_steps_annealing: as in `OrnsteinUhlenbeckProcessModule`.
        action_key: the action's key. Default ``"action"``.
        is_init_key: the trajectory-start flags. Default ``"is_init"``.
        spec: the action spec (overrides the policy's).
        safe: project the noisy action into the spec. Default True.
        key: deprecated alias of `action_key`.
        device: device of the exploration buffers.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.modules.tensordict_module.common import SafeModule
    >>> from rldsl.specs import Bounded
    >>> policy = SafeModule(torch.nn.Linear(3, 2), in_keys=["observation"], out_keys=["action"],
    ...                     spec=Bounded(-1.0, 1.0, shape=(2,)))
    >>> explorative = OrnsteinUhlenbeckProcessWrapper(policy, annealing_num_steps=10)
    >>> td = TensorDict({"observation": torch.randn(4, 3), "is_init": torch.ones(4, 1, dtype=torch.bool)}, [4])
    >>> sorted(explorative(td).keys())
    ['_ou_prev_noise', '_ou_steps', 'action', 'is_init', 'observation']
    """

    def __init__(self, policy: TensorDictModuleBase, *, eps_init: float = 1.0, eps_end: float = 0.1,
                 annealing_num_steps: int = 1000, theta: float = 0.15, mu: float = 0.0, sigma: float = 0.2,
                 dt: float = 1e-2, x0: Any = None, sigma_min: float | None = None, n_steps_annealing: int = 1000,
                 action_key: NestedKey | None = "action", is_init_key: NestedKey = "is_init",
                 spec: TensorSpec | None = None, safe: bool = True, key: NestedKey | None = None,
                 device: Any = None) -> None:
        owner = type(self).__name__
        action_key = self._resolve_key(action_key, key, owner)
        action_spec = policy_action_spec(policy, action_key, spec, owner)
        explore = OrnsteinUhlenbeckProcessModule(
            action_spec, eps_init, eps_end, annealing_num_steps, theta, mu, sigma, dt, x0, sigma_min,
            n_steps_annealing, action_key=action_key, is_init_key=is_init_key, safe=safe, device=device)
        super().__init__(policy, explore)

    @staticmethod
    def _resolve_key(action_key: NestedKey | None, key: NestedKey | None, owner: str) -> NestedKey:
        """`key` is the older spelling of `action_key`: accept it, refuse a conflict."""
        if key is None:
            return check_key("action" if action_key is None else action_key, "action_key", owner)
        warnings.warn(f"{owner}: `key` is deprecated, use `action_key`", DeprecationWarning, stacklevel=3)
        key = check_key(key, "key", owner)
        if action_key not in (None, "action", key):
            raise ValueError(f"{owner}: got key={key!r} and action_key={action_key!r}; pass action_key only")
        return key

    eps = forwarded("eps", "The current noise factor.")
    eps_init = forwarded("eps_init", "The initial noise factor.")
    eps_end = forwarded("eps_end", "The final noise factor.")

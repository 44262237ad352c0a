"""Probabilistic modules with specs: `SafeProbabilisticModule` and `SafeProbabilisticTensorDictSequential`.

`SafeProbabilisticModule` builds a distribution from entries of a tensordict, writes a value
from it (a sample, or a deterministic value, as the exploration type says) and, with
``return_log_prob=True``, the log-probability of that value. With ``safe=True`` the value is
projected into its spec first, and the log-probability is that of the value written: the
stored ``action_log_prob`` always equals ``get_dist(td).log_prob(td["action"])``, which is
what PPO-style losses assume when they compare it with a recomputed one.

Both classes are tensordict's `ProbabilisticTensorDictModule` /
`ProbabilisticTensorDictSequential` (so tensordict and torchrl code recognise them), with
keys, log-prob key names, exploration handling and `get_dist` unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, MutableSequence, Sequence
from contextlib import nullcontext
from typing import Any

import torch
from tensordict import TensorDictBase, is_tensor_collection
from tensordict.nn import (
    CompositeDistribution,
    ProbabilisticTensorDictModule,
    ProbabilisticTensorDictSequential,
    TensorDictModuleBase,
    composite_lp_aggregate,
    dispatch,
    set_composite_lp_aggregate,
    skip_existing,
)
from tensordict.nn.probabilistic import InteractionType, interaction_type, set_interaction_type
from tensordict.utils import NestedKey
from torch import distributions as D, nn

from rldsl._checks import is_int, require_bool, require_int
from rldsl.modules import distributions as rldsl_distributions
from rldsl.modules.distributions import Delta
from rldsl.modules.tensordict_module._entries import read_entry, write_entry
from rldsl.modules.tensordict_module.common import (
    SpecOwner,
    call_module,
    check_safe_has_spec,
    leaf_specs,
    spec_for_out_keys,
)
from rldsl.modules.tensordict_module.sequence import SafeSequential
from rldsl.specs import Composite, TensorSpec
from rldsl.specs._base import has_values

__all__ = ["SafeProbabilisticModule", "SafeProbabilisticTensorDictSequential"]

# tensordict >= 0.15 repeats a deterministic value over `num_samples` itself; 0.14 does not.
_EXPANDS_DETERMINISTIC_SAMPLES = hasattr(ProbabilisticTensorDictModule, "_draw_dist_sample")
# tensordict >= 0.15 passes `_requires_sample` to nested sequences; 0.14 has no such argument.
_SEQUENCE_TAKES_REQUIRES_SAMPLE = (
    "_requires_sample" in inspect.signature(ProbabilisticTensorDictSequential.forward).parameters
)


# --------------------------------------------------------------------------- argument checks
def _distribution_table() -> dict[str, type]:
    """Distribution classes by lower-case name: torch's, then rldsl's (which win on a clash)."""
    table = {}
    for source in (D, rldsl_distributions):
        for name in dir(source):
            value = getattr(source, name)
            if isinstance(value, type) and issubclass(value, D.Distribution):
                table[name.lower()] = value
    return table


def resolve_distribution_class(distribution_class: Any) -> Any:
    """A distribution class (or factory); a name such as ``"TanhNormal"`` is looked up.

    Names are matched without case among rldsl's distributions and
    ``torch.distributions``; an unknown name is a ``ValueError`` (torchrl silently gets
    ``None`` and fails at the first call).
    """
    if isinstance(distribution_class, str):
        table = _distribution_table()
        found = table.get(distribution_class.lower())
        if found is None:
            rldsl_names = ", ".join(sorted(rldsl_distributions.__all__))
            raise ValueError(
                f"distribution_class={distribution_class!r} is not a known distribution name; use one of "
                f"rldsl's ({rldsl_names}) or a torch.distributions class name, or pass the class itself"
            )
        return found
    if not callable(distribution_class):
        raise TypeError(
            f"distribution_class must be a distribution class or a callable returning a distribution, "
            f"got {type(distribution_class).__name__}; e.g. distribution_class=rldsl.modules.TanhNormal"
        )
    return distribution_class


def _without_validation(distribution_class: Any, kwargs: dict) -> dict:
    """`kwargs` with ``validate_args=False`` for a torch distribution that takes it.

    torch validates a distribution's arguments by their values (``scale > 0``), which
    parameters on the ``meta`` device do not have.
    """
    if not (isinstance(distribution_class, type) and issubclass(distribution_class, D.Distribution)):
        return kwargs
    try:
        params = inspect.signature(distribution_class).parameters
    except (TypeError, ValueError):
        return kwargs
    takes = "validate_args" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {**kwargs, "validate_args": False} if takes else kwargs


def _check_interaction_type(value: Any) -> InteractionType:
    try:
        return InteractionType(value)
    except ValueError:
        names = ", ".join(repr(member.value) for member in InteractionType)
        raise ValueError(
            f"default_interaction_type={value!r} is not an exploration type; use one of {names} "
            f"or a member of rldsl.modules.ExplorationType"
        ) from None


def _check_positive_int(value: Any, name: str) -> int:
    return int(require_int(value, name, expected="a positive int", integral=True, minimum=1, error=ValueError,
                           suffix=f"; e.g. {name}=1000"))


def _check_num_samples(value: Any) -> Any:
    if value is None:
        return None
    if is_int(value, integral=True):
        _check_positive_int(value, "num_samples")
        return value
    if isinstance(value, Sequence) and all(is_int(v, integral=True) and v >= 1 for v in value):
        return torch.Size(value)
    raise ValueError(
        f"num_samples must be None, a positive int or a sequence of positive ints, got {value!r}"
    )


def _check_distribution_kwargs(value: Any) -> dict | None:
    if value is None or isinstance(value, (Mapping, TensorDictBase)):
        return value
    raise TypeError(
        f"distribution_kwargs must be a dict of keyword arguments for the distribution (or None), "
        f"got {type(value).__name__}; e.g. distribution_kwargs={{'low': -2.0, 'high': 2.0}}"
    )


# --------------------------------------------------------------------------- the module
class SafeProbabilisticModule(SpecOwner, ProbabilisticTensorDictModule):
    """Builds a distribution from ``in_keys``, writes a value from it at ``out_keys``.

    The value depends on the exploration type (`rldsl.modules.set_exploration_type`), or,
    outside any, on ``default_interaction_type``: ``RANDOM`` draws (``rsample`` when the
    distribution has it), ``DETERMINISTIC`` takes ``dist.deterministic_sample``, ``MODE``,
    ``MEDIAN`` and ``MEAN`` the attribute of that name (``MEAN`` averages
    ``n_empirical_estimate`` draws when there is no closed form).

    Args:
        in_keys: keys holding the distribution's parameters. With a list, the last part of
            each key is the keyword (``"loc"``, ``("agent", "scale")`` -> ``scale=``); a dict
            ``{keyword: key}`` maps them explicitly.
        out_keys: where the value is written (default ``["_"]``, as in torchrl; actors use
            ``["action"]``). For a `CompositeDistribution` they default to its
            ``name_map``/``distribution_map`` keys.
        spec: the spec of the value: a plain spec for a single out key, or a `Composite`.

    Keyword Args:
        safe (bool): project the value into its spec before writing (and scoring) it.
            Defaults to ``False``.
        default_interaction_type: used outside any exploration context. Defaults to
            ``DETERMINISTIC`` (torchrl's docstring says ``MODE``; its code, and rldsl, use
            ``DETERMINISTIC``, which every rldsl distribution supports).
        distribution_class: the distribution class (or a factory, or a class name such as
            ``"TanhNormal"``). Defaults to `Delta`.
        distribution_kwargs (dict): further keyword arguments of the distribution.
        return_log_prob (bool): also write the log-probability of the value written, at
            ``<out_key>_log_prob`` (e.g. ``"action_log_prob"``). Defaults to ``False``.
        log_prob_keys, log_prob_key: other keys for the log-probability (as in tensordict).
        cache_dist (bool): also write the distribution parameters into ``tensordict_out``
            when one is given (they are already in the input otherwise). Defaults to ``False``.
        n_empirical_estimate (int): draws averaged for ``MEAN`` without a closed form.
            Defaults to ``1000``.
        num_samples (int): draw this many values (a leading dim; the output tensordict is
            expanded to it).
        generator: a ``torch.Generator``, a seed, or a key of the input holding either.

    A value already present at the out keys is overwritten, unless the call runs under
    ``tensordict.nn.set_skip_existing(True)`` and every out key is present.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.modules import ExplorationType, set_exploration_type
    >>> from rldsl.specs import Bounded
    >>> module = SafeProbabilisticModule(
    ...     in_keys=["loc", "scale"], out_keys=["action"], spec=Bounded(-1.0, 1.0, shape=(2,)),
    ...     safe=True, distribution_class=torch.distributions.Normal, return_log_prob=True)
    >>> td = TensorDict(loc=torch.tensor([0.0, 5.0]), scale=torch.ones(2))
    >>> module(td)["action"]  # DETERMINISTIC: the mean, projected into [-1, 1]
    tensor([0., 1.])
    >>> bool((td["action_log_prob"] == module.get_dist(td).log_prob(td["action"])).all())
    True
    >>> with set_exploration_type(ExplorationType.RANDOM):
    ...     bool(module(td)["action"].abs().max() <= 1)
    True
    """

    def __init__(
        self,
        in_keys: NestedKey | list[NestedKey] | dict[str, NestedKey],
        out_keys: NestedKey | list[NestedKey] | None = None,
        spec: TensorSpec | None = None,
        *,
        safe: bool = False,
        default_interaction_type: InteractionType | str = InteractionType.DETERMINISTIC,
        distribution_class: Any = Delta,
        distribution_kwargs: dict | None = None,
        return_log_prob: bool = False,
        log_prob_keys: list[NestedKey] | None = None,
        log_prob_key: NestedKey | None = None,
        cache_dist: bool = False,
        n_empirical_estimate: int = 1000,
        num_samples: int | torch.Size | None = None,
        generator: torch.Generator | int | NestedKey | None = None,
    ) -> None:
        super().__init__(
            in_keys=in_keys,
            out_keys=out_keys,
            default_interaction_type=_check_interaction_type(default_interaction_type),
            distribution_class=resolve_distribution_class(distribution_class),
            distribution_kwargs=_check_distribution_kwargs(distribution_kwargs),
            return_log_prob=require_bool(return_log_prob, "return_log_prob"),
            log_prob_keys=log_prob_keys,
            log_prob_key=log_prob_key,
            n_empirical_estimate=_check_positive_int(n_empirical_estimate, "n_empirical_estimate"),
            num_samples=_check_num_samples(num_samples),
            generator=generator,
        )
        self.cache_dist = require_bool(cache_dist, "cache_dist")
        self._safe = require_bool(safe, "safe")
        self._spec = spec_for_out_keys(spec, self.dist_sample_keys, type(self).__name__)
        self._refresh_projections()

    # ----------------------------------------------------------------- spec and safety
    @property
    def spec(self) -> Composite:
        """The `Composite` spec of the sampled values (one entry per sample key, maybe `None`)."""
        return self._spec

    @spec.setter
    def spec(self, spec: TensorSpec | None) -> None:
        self._spec = spec_for_out_keys(spec, self.dist_sample_keys, type(self).__name__)
        self._refresh_projections()

    @property
    def safe(self) -> bool:
        """Whether values are projected into their specs before being written and scored."""
        return self._safe

    @safe.setter
    def safe(self, safe: bool) -> None:
        self._safe = require_bool(safe, "safe")
        self._refresh_projections()

    def _spec_moved(self) -> None:
        self._refresh_projections()

    def _refresh_projections(self) -> None:
        projections = leaf_specs(self._spec, self.dist_sample_keys)
        check_safe_has_spec(self._safe, projections, type(self).__name__)
        self._projections = projections if self._safe else []

    def random(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Write a random member of each sample key's spec (as a tensor at that key)."""
        for key in self.dist_sample_keys:
            leaf = self._spec.get(key)
            if leaf is not None:
                tensordict.set(key, leaf.rand(tensordict.batch_size))
        return tensordict

    random_sample = random

    # ----------------------------------------------------------------- calling
    def forward(self, tensordict: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Write a value (and its log-probability) from the distribution built from ``tensordict``.

        ``in_keys`` (e.g. ``loc, scale: [*B, d]``) ``-> out_keys[0]: [*B, *E]`` (the event
        shape: ``[*B, d]`` for the Normal-like distributions, ``[*B, n]`` one-hot, ``[*B]`` an
        index) and, with ``return_log_prob``, ``<out_key>_log_prob``: the distribution's batch
        shape, ``[*B]`` when the event dims are summed (rldsl's distributions; a plain
        ``torch.distributions.Normal`` scores elementwise: ``[*B, d]``). ``num_samples=k``
        prepends ``k``: the output tensordict is expanded to ``[k, *B]``.

        ``module(td)`` and ``module(td, tensordict_out)`` write into a tensordict;
        ``module(loc=..., scale=...)`` (tensors) returns the outputs as tensors.
        """
        if not isinstance(tensordict, TensorDictBase):
            inputs = args if tensordict is None else (tensordict, *args)
            return self._dispatched_forward(*inputs, **kwargs)
        tensordict_out = args[0] if args else kwargs.pop("tensordict_out", None)
        requires_sample = kwargs.pop("_requires_sample", True)
        if kwargs or len(args) > 1:
            raise TypeError(
                f"{type(self).__name__} takes a tensordict and optionally tensordict_out, "
                f"got extra arguments {list(kwargs) or args[1:]}"
            )
        mode = skip_existing()
        if mode and self._outputs_present(tensordict, mode):
            return tensordict if tensordict_out is None else tensordict_out
        return self._forward_td(tensordict, tensordict_out, requires_sample)

    @dispatch(auto_batch_size=False)
    def _dispatched_forward(self, tensordict: TensorDictBase, tensordict_out: Any = None,
                            _requires_sample: bool = True) -> TensorDictBase:
        return self._forward_td(tensordict, tensordict_out, _requires_sample)

    def _outputs_present(self, tensordict: TensorDictBase, mode: Any) -> bool:
        out_keys, in_keys = self.out_keys, self.in_keys
        present = tensordict.keys(True)
        return (
            (mode is True or all(key in mode for key in out_keys))
            and all(key in present for key in out_keys)
            and not any(key in out_keys for key in in_keys)
        )

    def _forward_td(self, tensordict: TensorDictBase, tensordict_out: TensorDictBase | None,
                    requires_sample: bool) -> TensorDictBase:
        out = tensordict if tensordict_out is None else tensordict_out
        if self.cache_dist and out is not tensordict:
            out.update(tensordict.select(*self.in_keys, strict=False))
        dist = self.get_dist(tensordict)
        if not requires_sample:
            source = self._project_present_values(tensordict, out)
            if self.return_log_prob:
                self._write_log_prob_of_present_values(dist, source, out)
            return out
        value = self._draw(dist, tensordict)
        if self.num_samples is not None:
            out = out.expand(self.num_samples + out.shape)
        if isinstance(value, torch.Tensor):
            values = self._project((value,))
        elif isinstance(value, TensorDictBase):
            return self._write_sample_tensordict(dist, value, out)
        else:
            values = self._project(tuple(value))
        keys = self._out_keys
        if len(values) != len(keys):
            raise RuntimeError(
                f"the distribution gave {len(values)} value(s) for {len(keys)} out_keys {keys}"
            )
        for key, item in zip(keys, values):
            write_entry(out, key, item)
        if self.return_log_prob:
            write_entry(out, self._tensor_log_prob_key(), dist.log_prob(*values))
        return out

    def _tensor_log_prob_key(self) -> NestedKey:
        """`log_prob_key`, read without going through the properties twice (same checks)."""
        if self._current_lp_aggregate():
            return self._log_prob_key
        keys = self._log_prob_keys
        return keys[0] if len(keys) == 1 else self.log_prob_key

    def get_dist(self, tensordict: TensorDictBase) -> D.Distribution:
        """The distribution built from the parameters in ``tensordict`` (at ``in_keys``).

        Same as tensordict's `get_dist` (whose error messages a failing call gets), with a
        shorter path for the common call.
        """
        if torch.compiler.is_compiling():
            return super().get_dist(tensordict)
        params = {}
        for dist_key, td_key in zip(self.dist_keys, self.in_keys):
            params[dist_key[-1] if isinstance(dist_key, tuple) else dist_key] = read_entry(tensordict, td_key)
        kwargs = self.distribution_kwargs
        if not has_values(*params.values()):  # "meta" parameters: torch's argument checks cannot run
            kwargs = _without_validation(self.distribution_class, kwargs)
        try:
            return self.distribution_class(**params, **kwargs)
        except TypeError:
            return super().get_dist(tensordict)

    def _draw(self, dist: D.Distribution, tensordict: TensorDictBase) -> Any:
        """The value the exploration type asks for, as tensordict computes it.

        ``RANDOM`` and ``DETERMINISTIC`` (with ``dist.deterministic_sample``) without a
        generator or ``num_samples`` take a short path; everything else is tensordict's.
        """
        current = interaction_type()
        if self._generator is None and self._generator_key is None and self.num_samples is None:
            kind = current or self.default_interaction_type
            if kind is InteractionType.RANDOM and isinstance(dist, D.Distribution):
                return dist.rsample() if dist.has_rsample else dist.sample()
            if kind is InteractionType.DETERMINISTIC:
                value = getattr(dist, "deterministic_sample", None)
                if value is not None:
                    return value
        generator, writeback = self._resolve_generator(tensordict)
        value = self._dist_sample(dist, interaction_type=current, generator=generator)
        if writeback is not None:
            writeback(generator)
        num_samples = self.num_samples
        if (
            num_samples
            and not _EXPANDS_DETERMINISTIC_SAMPLES
            and (current or self.default_interaction_type) is not InteractionType.RANDOM
        ):
            value = _repeat(value, num_samples)
        return value

    def _project(self, values: tuple) -> tuple:
        if not self._projections:
            return values
        values = list(values)
        for position, leaf in self._projections:
            if position < len(values):
                values[position] = leaf.project(values[position])
        return tuple(values)

    def _project_tensordict(self, sample: TensorDictBase) -> None:
        present = sample.keys(True)
        for position, leaf in self._projections:
            key = self.dist_sample_keys[position]
            if key in present:
                sample.set(key, leaf.project(sample.get(key)))

    def _write_sample_tensordict(self, dist: Any, sample: TensorDictBase, out: TensorDictBase) -> TensorDictBase:
        """A composite distribution's values (projected), then their log-probabilities."""
        self._project_tensordict(sample)
        if self.return_log_prob:
            aggregate = self._current_lp_aggregate()
            if aggregate:
                with set_composite_lp_aggregate(False):
                    log_prob = dist.log_prob(sample)
                if log_prob is not sample:
                    sample.update(log_prob)
                sample.set(self.log_prob_key, sum(log_prob.sum(dim="feature").values(True, True)))
            else:
                log_prob = dist.log_prob(sample)
                self._update_td_lp(log_prob)
                sample.update(log_prob)
        out.update(sample)
        return out

    def _project_present_values(self, tensordict: TensorDictBase, out: TensorDictBase) -> TensorDictBase:
        """``safe=True`` when an earlier module already wrote the values (a gSDE-style network that
        writes ``action``): they are projected into ``out`` too, as torchrl's safe hook projects
        every present key with a spec. Returns the tensordict holding the values to score."""
        if not self._projections:
            return tensordict
        if out is not tensordict:
            out.update(tensordict.select(*self.dist_sample_keys, strict=False))
        self._project_tensordict(out)
        return out

    def _write_log_prob_of_present_values(self, dist: Any, tensordict: TensorDictBase, out: TensorDictBase) -> None:
        """``return_log_prob`` when an earlier module already wrote the values."""
        if isinstance(dist, CompositeDistribution):
            log_prob = self.log_prob(tensordict, dist=dist)
            if is_tensor_collection(log_prob):
                out.update(log_prob)
            else:
                out.set(self.log_prob_key, log_prob)
            return
        values = [tensordict.get(key) for key in self.dist_sample_keys]
        out.set(self.log_prob_key, dist.log_prob(*values))

    def _current_lp_aggregate(self) -> bool:
        aggregate = composite_lp_aggregate(nowarn=True)
        if aggregate != self._composite_lp_aggreate_at_init:
            raise RuntimeError(
                f"composite_lp_aggregate() changed from {self._composite_lp_aggreate_at_init} to "
                f"{aggregate} since this {type(self).__name__} was built; build it under the setting "
                f"you call it with"
            )
        return aggregate


def _repeat(value: Any, num_samples: torch.Size) -> Any:
    """A deterministic value repeated over the ``num_samples`` leading dims."""
    if isinstance(value, tuple):
        return tuple(item.expand(num_samples + item.shape) for item in value)
    return value.expand(num_samples + value.shape)


# --------------------------------------------------------------------------- the sequence
def _flat_modules(modules: tuple) -> list:
    """The modules given positionally, as one list or as one (ordered) dict."""
    if len(modules) == 1 and isinstance(modules[0], Mapping):
        return list(modules[0].values())
    if len(modules) == 1 and isinstance(modules[0], MutableSequence):
        return list(modules[0])
    return list(modules)


def _is_probabilistic(module: Any) -> bool:
    return isinstance(module, (ProbabilisticTensorDictModule, ProbabilisticTensorDictSequential))


class SafeProbabilisticTensorDictSequential(ProbabilisticTensorDictSequential, SafeSequential):
    """A sequence of tensordict modules ending in a probabilistic one, with the union of their specs.

    Calling it runs the modules in order (the ones before the last under the exploration
    type the last one would use); `get_dist` returns the last module's distribution,
    `log_prob_keys` / `dist_sample_keys` name what it writes, `spec` is the union of the
    modules' specs.

    Args:
        *modules: `TensorDictModuleBase` instances, at least one of them probabilistic
            (normally the last: a `SafeProbabilisticModule`).
        partial_tolerant (bool): as in `TensorDictSequential`.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from tensordict.nn import NormalParamExtractor, TensorDictModule
    >>> from rldsl.modules import TanhNormal
    >>> net = TensorDictModule(torch.nn.Sequential(torch.nn.Linear(3, 4), NormalParamExtractor()),
    ...                        in_keys=["observation"], out_keys=["loc", "scale"])
    >>> head = SafeProbabilisticModule(["loc", "scale"], ["action"], distribution_class=TanhNormal,
    ...                                return_log_prob=True)
    >>> policy = SafeProbabilisticTensorDictSequential(net, head)
    >>> policy.in_keys, policy.out_keys
    (['observation'], ['loc', 'scale', 'action', 'action_log_prob'])
    >>> td = policy(TensorDict(observation=torch.randn(5, 3), batch_size=[5]))
    >>> td["action"].shape, td["action_log_prob"].shape
    (torch.Size([5, 2]), torch.Size([5]))
    """

    def __init__(self, *modules: Any, partial_tolerant: bool = False, **kwargs: Any) -> None:
        flat = _flat_modules(modules)
        for position, module in enumerate(flat):
            if not isinstance(module, TensorDictModuleBase):
                raise TypeError(
                    f"{type(self).__name__} module {position} is a {type(module).__name__}, not a "
                    f"tensordict module; wrap it, e.g. TensorDictModule(net, in_keys=[...], out_keys=[...])"
                )
        if not any(_is_probabilistic(module) for module in flat):
            raise TypeError(
                f"{type(self).__name__} needs a probabilistic module (normally last), e.g. "
                f"SafeProbabilisticModule(in_keys=['loc', 'scale'], out_keys=['action'], distribution_class=...)"
            )
        super().__init__(*modules, partial_tolerant=partial_tolerant, **kwargs)

    @property
    def log_prob_key(self) -> NestedKey:
        """The log-probability key, when the modules write exactly one (else use `log_prob_keys`).

        Raises ``AttributeError`` otherwise, so that ``getattr(policy, "log_prob_key", None)``
        works (tensordict 0.14's own property fails on sequences).
        """
        try:
            keys = self.log_prob_keys
        except RuntimeError as err:
            raise AttributeError(f"log_prob_key: {err}") from err
        if len(keys) != 1:
            raise AttributeError(f"log_prob_key needs exactly one log-probability key, got {keys}; use log_prob_keys")
        return keys[0]

    def forward(self, tensordict: Any = None, tensordict_out: Any = None,
                _requires_sample: bool | None = None, **kwargs: Any) -> Any:
        """Run the modules; see the class docstring.

        E.g. ``observation: [*B, n_obs] -> loc, scale: [*B, d] -> action: [*B, d]``,
        ``action_log_prob: [*B]``: each module's outputs in order, the last module's value
        and log-probability shaped as in `SafeProbabilisticModule.forward`.
        """
        if tensordict_out is None and not kwargs and isinstance(tensordict, TensorDictBase) and self._lean_call_ok():
            *body, last = self._modules_in_order()
            if isinstance(last, ProbabilisticTensorDictModule):
                return self._lean_forward(tensordict, body, last, _requires_sample)
        if _requires_sample is not None and _SEQUENCE_TAKES_REQUIRES_SAMPLE:
            kwargs["_requires_sample"] = _requires_sample
        args = tuple(item for item in (tensordict, tensordict_out) if item is not None)
        return super().forward(*args, **kwargs)

    def _modules_in_order(self) -> list:
        """The modules, in call order (``_module_iter`` without the generator's overhead)."""
        modules = self._modules["module"]
        return list(modules.values()) if isinstance(modules, nn.ModuleDict) else list(modules)

    def _lean_call_ok(self) -> bool:
        return (
            not self.return_composite
            and not self._select_before_return
            and self.inplace in (None, True)
            and not self.partial_tolerant
            and not skip_existing()
        )

    def _lean_forward(self, tensordict: TensorDictBase, body: list, last: ProbabilisticTensorDictModule,
                      requires_sample: bool | None) -> TensorDictBase:
        """What the generic forward does for ``policy(td)``, without its bookkeeping.

        The modules before the last run under the last one's ``default_interaction_type``
        when no exploration type is set (as tensordict's ``get_dist_params`` does).
        """
        result = tensordict
        if body:
            context = nullcontext() if interaction_type() is not None else set_interaction_type(
                last.default_interaction_type
            )
            with context:
                for module in body:
                    result = call_module(module, result)
        if requires_sample is None:
            requires_sample = self._requires_sample
        else:
            requires_sample = requires_sample and self._requires_sample
        result = last(result, _requires_sample=requires_sample)
        if self.inplace is True and result is not tensordict:
            tensordict.update(result, keys_to_update=self.out_keys)
            return tensordict
        return result

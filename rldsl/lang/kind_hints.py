"""What to say about a kind name the language does not know.

An unknown kind gets, in this order: the rldsl spelling of a torchrl name written differently
(:data:`~rldsl.lang.kinds.RENAMED`), what to do instead for a torchrl class that is not a kind by
design (:data:`NOT_KINDS`: one built from a Python object, an abstract base), a note that rldsl
has no such kind *yet* when the name is a torchrl.modules class without an rldsl kind (so that
such a name is not "corrected" to another kind), the `.rlm` spelling of Python's
`True`/`False`/`None`, or the closest kind name when one is really close. The torchrl names are
kept as a list; which of them rldsl lacks is worked out from the registered kinds, so the list of
missing kinds shrinks as kinds are added.

>>> unknown_kind_help("LMHeadActorValueOperator")[0]  # doctest: +ELLIPSIS
'`LMHeadActorValueOperator` wraps a Python language-model object ...'
>>> unknown_kind_help("ProbablisticActor")
('did you mean `ProbabilisticActor`?', 'ProbabilisticActor')
"""

from __future__ import annotations

import functools

from rldsl.lang.kinds import BY_NAME, KINDS, RENAMED, Family
from rldsl.lang.values import did_you_mean

__all__ = ["NOT_KINDS", "OWN_KIND", "TORCHRL_MODULES", "missing_kinds", "unknown_kind_help"]

#: The classes of torchrl.modules (its API reference), whether or not rldsl has a kind for them.
TORCHRL_MODULES: tuple[str, ...] = (
    "Actor", "ActorCriticOperator", "ActorCriticWrapper", "ActorValueOperator", "AdditiveGaussianWrapper",
    "CEMPlanner", "ConvNet", "DTActor", "DdpgCnnActor", "DdpgCnnQNet", "DdpgMlpActor", "DdpgMlpQNet",
    "DecisionTransformer", "DecisionTransformerInferenceWrapper", "Delta", "DistributionalDQNnet",
    "DistributionalQValueActor", "DistributionalQValueHook", "DistributionalQValueModule", "DreamerActor",
    "DuelingCnnDQNet", "EGreedyModule", "IndependentNormal", "LMHeadActorValueOperator", "LSTMModule", "LSTMNet",
    "MLP", "MPCPlannerBase", "MPPIPlanner", "MaskedCategorical", "MaskedOneHotCategorical", "MultiAgentMLP",
    "NoisyLazyLinear", "NoisyLinear", "NormalParamWrapper", "ObsDecoder", "ObsEncoder", "OneHotCategorical",
    "OnlineDTActor", "OrnsteinUhlenbeckProcessWrapper", "ProbabilisticActor", "QMixer", "QValueActor", "QValueHook",
    "QValueModule", "RSSMPosterior", "RSSMPrior", "SafeModule", "SafeProbabilisticModule",
    "SafeProbabilisticTensorDictSequential", "SafeSequential", "TanhDelta", "TanhModule", "TanhNormal",
    "TruncatedNormal", "VDNMixer", "ValueOperator", "VmapModule", "WorldModelWrapper",
)  # fmt: skip


#: torchrl.modules classes that are not kinds by design, with what to do instead: a class built
#: from a Python object (a model file never names Python objects), or an abstract base.
NOT_KINDS: dict[str, str] = {
    "LMHeadActorValueOperator": (
        "`LMHeadActorValueOperator` wraps a Python language-model object (a Hugging-Face-like `*LMHeadModel`), "
        "and a model file never names Python objects: build it in Python with "
        "`rldsl.modules.LMHeadActorValueOperator(lm_model)`, or make a kind of a class of your own that builds "
        "one with `rldsl.register_kind` (then `--import-kinds MODULE`)"),
    "MPCPlannerBase": (
        "`MPCPlannerBase` is the abstract base of the planners: use `CEMPlanner` or `MPPIPlanner`, planning in a "
        "`ModelEnv`; a planner of your own is a subclass made a kind from Python with `rldsl.register_kind`"),
}


@functools.cache
def missing_kinds() -> frozenset[str]:
    """The torchrl.modules classes rldsl has no kind of its own for (and no other spelling of);
    one registered from Python (``rldsl.register_kind``) is found by name before this is asked.
    Classes that are not kinds by design (:data:`NOT_KINDS`) are among them, with their own help."""
    return frozenset(TORCHRL_MODULES) - frozenset(kind.name for kind in KINDS) - frozenset(RENAMED)


#: How a kind rldsl lacks is added: registered from Python, never imported by a model.
OWN_KIND = ("a class of your own is made a kind from Python with `rldsl.register_kind` "
            "(then `--import-kinds MODULE`)")


def unknown_kind_help(name: str, family: Family | None = None,
                      fallback: str = f"the kinds are listed in docs/language.md; {OWN_KIND}"
                      ) -> tuple[str, str | None]:
    """The help line for an unknown kind ``name`` (looked for among the kinds of ``family``, or
    all kinds; ``fallback`` when nothing better can be said), and the kind it suggests, if any."""
    if name in RENAMED:
        return RENAMED[name], None
    if name in NOT_KINDS and name not in BY_NAME:
        return NOT_KINDS[name], None
    if name in missing_kinds() and name not in BY_NAME:
        return f"rldsl has no `{name}` yet (it is a torchrl.modules class); the kinds are listed in docs/language.md" \
               f"; {OWN_KIND}", None
    names = [kind.name for kind in BY_NAME.values() if family is None or kind.family is family]
    return did_you_mean(name, names, fallback)

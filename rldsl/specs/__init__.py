"""Runtime specs: the types of tensor keys, mirroring torchrl 0.14's spec classes.

Every spec has `shape`, `dtype`, `device`, `is_in`, `project`, `rand`, `zero`, `one`,
`encode`, `expand`, `squeeze`/`unsqueeze`, `reshape`, `unbind`, `clone`, indexing, `to`,
`type_check`, equality and a readable repr. `project` maps any value into the domain (a
value already inside comes back unchanged); each class documents how. ``torch.stack`` of
specs gives a spec of the same class when they are equal, else a lazy `Stacked` /
`StackedComposite`; `NonTensor` types entries holding Python data; `Choice` draws from one of
several specs (or fixed non-tensor values).

>>> import torch
>>> from rldsl.specs import Bounded, Composite, OneHot
>>> action = Bounded(low=-2.0, high=2.0, shape=(1,))
>>> action.project(torch.tensor([3.0]))
tensor([2.])
>>> Composite(action=action, mode=OneHot(3)).rand((4,)).batch_size
torch.Size([4])
"""

from rldsl.specs._base import CategoricalBox, ContinuousBox, TensorSpec
from rldsl.specs.choice import Choice
from rldsl.specs.composite import Composite
from rldsl.specs.continuous import (
    Bounded,
    BoundedContinuous,
    BoundedDiscrete,
    Unbounded,
    UnboundedContinuous,
    UnboundedDiscrete,
)
from rldsl.specs.discrete import Binary, Categorical, MultiCategorical, MultiOneHot, OneHot
from rldsl.specs.gym import (
    EnvSpecs,
    action_to_env,
    env_specs,
    observation_from_env,
    space_to_spec,
    spec_to_space,
)
from rldsl.specs.nontensor import NonTensor
from rldsl.specs.stacked import Stacked, StackedComposite, stack_specs

# torchrl's older class names, still common in tutorials and in the torchrl docs' examples.
BoundedTensorSpec = Bounded
UnboundedContinuousTensorSpec = UnboundedContinuous
UnboundedDiscreteTensorSpec = UnboundedDiscrete
OneHotDiscreteTensorSpec = OneHot
DiscreteTensorSpec = Categorical
BinaryDiscreteTensorSpec = Binary
MultiOneHotDiscreteTensorSpec = MultiOneHot
MultiDiscreteTensorSpec = MultiCategorical
CompositeSpec = Composite
LazyStackedTensorSpec = Stacked
LazyStackedCompositeSpec = StackedComposite
NonTensorSpec = NonTensor

__all__ = [
    "Binary",
    "BinaryDiscreteTensorSpec",
    "Bounded",
    "BoundedContinuous",
    "BoundedDiscrete",
    "BoundedTensorSpec",
    "Categorical",
    "CategoricalBox",
    "Choice",
    "Composite",
    "CompositeSpec",
    "ContinuousBox",
    "DiscreteTensorSpec",
    "EnvSpecs",
    "LazyStackedCompositeSpec",
    "LazyStackedTensorSpec",
    "MultiCategorical",
    "MultiDiscreteTensorSpec",
    "MultiOneHot",
    "MultiOneHotDiscreteTensorSpec",
    "NonTensor",
    "NonTensorSpec",
    "OneHot",
    "OneHotDiscreteTensorSpec",
    "Stacked",
    "StackedComposite",
    "TensorSpec",
    "Unbounded",
    "UnboundedContinuous",
    "UnboundedContinuousTensorSpec",
    "UnboundedDiscrete",
    "UnboundedDiscreteTensorSpec",
    "action_to_env",
    "env_specs",
    "observation_from_env",
    "space_to_spec",
    "spec_to_space",
    "stack_specs",
]

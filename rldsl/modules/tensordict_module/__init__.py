"""TensorDict modules: safe modules, actors, probabilistic modules, exploration, Q-value and value operators."""

from rldsl.modules.tensordict_module.actors import (
    Actor,
    ActorCriticOperator,
    ActorCriticWrapper,
    ActorValueOperator,
    ProbabilisticActor,
    ValueOperator,
)
from rldsl.modules.tensordict_module.common import SafeModule
from rldsl.modules.tensordict_module.consistent_dropout import ConsistentDropoutModule
from rldsl.modules.tensordict_module.dt import DecisionTransformerInferenceWrapper, DTActor, OnlineDTActor
from rldsl.modules.tensordict_module.exploration import (
    AdditiveGaussianModule,
    AdditiveGaussianWrapper,
    EGreedyModule,
    OrnsteinUhlenbeckProcessModule,
    OrnsteinUhlenbeckProcessWrapper,
)
from rldsl.modules.tensordict_module.lm_head import LMHeadActorValueOperator
from rldsl.modules.tensordict_module.probabilistic import (
    SafeProbabilisticModule,
    SafeProbabilisticTensorDictSequential,
)
from rldsl.modules.tensordict_module.qvalue import (
    DistributionalDQNnet,
    DistributionalQValueActor,
    DistributionalQValueHook,
    DistributionalQValueModule,
    QValueActor,
    QValueHook,
    QValueModule,
)
from rldsl.modules.tensordict_module.rnn import (
    GRUModule,
    LSTMModule,
    get_primers_from_module,
    recurrent_mode,
    set_recurrent_mode,
)
from rldsl.modules.tensordict_module.sequence import SafeSequential
from rldsl.modules.tensordict_module.tanh import TanhModule
from rldsl.modules.tensordict_module.vmap import VmapModule
from rldsl.modules.tensordict_module.world_models import RSSMRollout, WorldModelWrapper

__all__ = [
    "Actor",
    "ActorCriticOperator",
    "ActorCriticWrapper",
    "ActorValueOperator",
    "AdditiveGaussianModule",
    "AdditiveGaussianWrapper",
    "ConsistentDropoutModule",
    "DTActor",
    "DecisionTransformerInferenceWrapper",
    "DistributionalDQNnet",
    "DistributionalQValueActor",
    "DistributionalQValueHook",
    "DistributionalQValueModule",
    "EGreedyModule",
    "GRUModule",
    "LMHeadActorValueOperator",
    "LSTMModule",
    "OnlineDTActor",
    "OrnsteinUhlenbeckProcessModule",
    "OrnsteinUhlenbeckProcessWrapper",
    "ProbabilisticActor",
    "QValueActor",
    "QValueHook",
    "QValueModule",
    "RSSMRollout",
    "SafeModule",
    "SafeProbabilisticModule",
    "SafeProbabilisticTensorDictSequential",
    "SafeSequential",
    "TanhModule",
    "ValueOperator",
    "VmapModule",
    "WorldModelWrapper",
    "get_primers_from_module",
    "recurrent_mode",
    "set_recurrent_mode",
]

"""Distributions used by RL policies, mirroring ``torchrl.modules.distributions``.

Continuous: :class:`Delta`, :class:`IndependentNormal`, :class:`TanhNormal`,
:class:`TruncatedNormal`, :class:`TanhDelta` (and :class:`NormalParamWrapper`, the module
that produces ``loc``/``scale``). Discrete: :class:`OneHotCategorical`,
:class:`MaskedCategorical`, :class:`MaskedOneHotCategorical`.
"""

from rldsl.modules.distributions.continuous import (
    Delta,
    IndependentNormal,
    NormalParamWrapper,
    TanhDelta,
    TanhNormal,
)
from rldsl.modules.distributions.discrete import (
    MaskedCategorical,
    MaskedOneHotCategorical,
    OneHotCategorical,
    ReparamGradientStrategy,
)
from rldsl.modules.distributions.truncated_normal import TruncatedNormal

__all__ = [
    "Delta",
    "IndependentNormal",
    "MaskedCategorical",
    "MaskedOneHotCategorical",
    "NormalParamWrapper",
    "OneHotCategorical",
    "ReparamGradientStrategy",
    "TanhDelta",
    "TanhNormal",
    "TruncatedNormal",
]

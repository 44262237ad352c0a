"""``DecisionTransformer`` forward at context 20 against the same layers as a plain ``nn.Module``.

The baseline is written here from plain torch layers: ``nn.Linear`` embeddings, ``nn.LayerNorm``,
a positional-embedding table, and per block ``nn.Linear`` projections (weights copied from
rldsl's model, transposed into ``nn.Linear``'s layout), ``scaled_dot_product_attention(is_causal=True)``
and the activation, in one ``forward`` with no checks. rldsl's model adds its input checks, its
GPT-2 submodule structure (``Conv1D`` layers holding ``[in, out]`` weights) and the dropout
modules (identities in eval mode). Both give the same numbers (checked before timing).

Cases, one thread, eval mode, ``torch.no_grad``: torchrl's default configuration
(``n_embd=256, n_layer=4, n_head=4, n_inner=1024``), ``state_dim=17, action_dim=6``, context
``T=20`` (60 tokens), batch 1 (acting) and batch 16 (a small training batch, forward only); and the
actors' default width (``n_embd=512, n_inner=2048``) at batch 1.

Budget (issue 12): at most 1.2x the plain module, in every case. The ratio is measured in one
run, interleaved, the median of many repeats (``_timing.compare``).

    python benchmarks/bench_dt.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, print_table  # noqa: E402

from rldsl.modules import DecisionTransformer  # noqa: E402

BUDGET = 1.2
CONTEXT = 20
STATE_DIM, ACTION_DIM = 17, 6


def linear_from_conv1d(conv: nn.Module) -> nn.Linear:
    """An ``nn.Linear`` computing what a GPT-2 ``Conv1D`` computes (weight transposed, contiguous)."""
    layer = nn.Linear(conv.nx, conv.nf)
    with torch.no_grad():
        layer.weight.copy_(conv.weight.t())
        layer.bias.copy_(conv.bias)
    return layer


def layer_norm_copy(norm: nn.LayerNorm) -> nn.LayerNorm:
    copy = nn.LayerNorm(norm.normalized_shape, eps=norm.eps)
    copy.load_state_dict(norm.state_dict())
    return copy


class PlainBlock(nn.Module):
    """One pre-LayerNorm causal block from plain layers."""

    def __init__(self, block: nn.Module, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.ln_1, self.ln_2 = layer_norm_copy(block.ln_1), layer_norm_copy(block.ln_2)
        self.qkv, self.out = linear_from_conv1d(block.attn.c_attn), linear_from_conv1d(block.attn.c_proj)
        self.fc, self.proj = linear_from_conv1d(block.mlp.c_fc), linear_from_conv1d(block.mlp.c_proj)
        self.act = block.mlp.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [N, L, H] -> [N, L, H]``."""
        n, length, width = x.shape
        q, k, v = self.qkv(self.ln_1(x)).view(n, length, 3, self.n_head, width // self.n_head).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(attended.transpose(1, 2).reshape(n, length, width))
        return x + self.proj(self.act(self.fc(self.ln_2(x))))


class PlainDecisionTransformer(nn.Module):
    """The decision transformer's forward from plain torch layers and the same weights: the baseline."""

    def __init__(self, model: DecisionTransformer) -> None:
        super().__init__()
        self.hidden = model.hidden_size
        self.embed_return = model.embed_return
        self.embed_state = model.embed_state
        self.embed_action = model.embed_action
        self.embed_ln = layer_norm_copy(model.embed_ln)
        self.positions = nn.Parameter(model.transformer.wpe.weight.detach().clone())
        self.blocks = nn.ModuleList(PlainBlock(block, model.config.n_head) for block in model.transformer.h)
        self.ln_f = layer_norm_copy(model.transformer.ln_f)

    def forward(self, observation: torch.Tensor, action: torch.Tensor, return_to_go: torch.Tensor) -> torch.Tensor:
        """``observation: [N, T, s], action: [N, T, a], return_to_go: [N, T, 1] -> [N, T, H]``."""
        n, steps = observation.shape[:2]
        x = torch.stack((self.embed_return(return_to_go), self.embed_state(observation),
                         self.embed_action(action)), dim=2).reshape(n, 3 * steps, self.hidden)
        x = self.embed_ln(x) + self.positions[: 3 * steps]
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x).view(n, steps, 3, self.hidden)[:, :, 1]


def timing(batch: int, width: int, quick: bool) -> dict:
    """Calls per sample and samples: about 15 s per case in a full run (a forward takes 10-150 ms)."""
    if batch == 1 and width <= 256:
        return {"number": 4 if quick else 10, "repeats": 5 if quick else 11}
    if batch == 1:
        return {"number": 2 if quick else 5, "repeats": 5 if quick else 11}
    return {"number": 1 if quick else 2, "repeats": 3 if quick else 7}


def case(config: dict, batch: int, quick: bool) -> tuple[str, float, float, float]:
    torch.manual_seed(0)
    model = DecisionTransformer(STATE_DIM, ACTION_DIM, config=config).eval()
    plain = PlainDecisionTransformer(model).eval()
    inputs = (torch.randn(batch, CONTEXT, STATE_DIM), torch.randn(batch, CONTEXT, ACTION_DIM),
              torch.randn(batch, CONTEXT, 1))
    with torch.no_grad():
        torch.testing.assert_close(model(*inputs), plain(*inputs), rtol=1e-4, atol=1e-5)
        result = compare(lambda: plain(*inputs), lambda: model(*inputs),
                         **timing(batch, model.hidden_size, quick))
    return (f"n_embd {model.hidden_size}, T {CONTEXT}, batch {batch}", *result)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    torch.set_num_threads(1)
    default = DecisionTransformer.default_config()
    wide = {"n_embd": 512, "n_inner": 2048}
    rows = [case(default, 1, quick), case(default, 16, quick), case(wide, 1, quick)]
    ok = print_table("DecisionTransformer forward vs the same layers as a plain nn.Module (one thread, eval)",
                     rows, budget=BUDGET)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The compiler builds from what the checker proved: networks are sized by the input specs the
checker typed them with (no module is run to find a size), and every per-kind fact it needs is in
the kind description (``Param.meaning``, ``Param.derive``), never a parameter name in the compiler."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import rldsl
from rldsl.lang.check import check_text
from rldsl.lang.ir import Network
from rldsl.lang.kinds import KINDS, ArgType, Family, Meaning

COMPILER = Path(rldsl.__file__).parent / "compiler"

PIPE = """key observation : f32[5]
key hidden : f32[7]
module body = Linear(5, 6) >> Tanh() >> MLP(out_features=3, num_cells=[4]) >> ReLU() : observation -> hidden2
module both = MLP(out_features=2) : observation, hidden -> out
"""


def test_the_report_holds_each_networks_typed_inputs():
    report = check_text(PIPE, "a.rlm")
    assert report.ok, report.render()
    widths = {net.kind.name if net.kind else "pipe": [s.shape[-1] for s in specs]
              for net, specs in report.network_inputs.items()}
    assert widths["pipe"] == [5] and widths["Linear"] == [5] and widths["Tanh"] == [6]
    assert widths["MLP"] in ([6], [5, 7])  # the pipe's MLP reads Linear's output; `both` reads 5 + 7
    stages = [n for n in report.network_inputs if n.kind is not None and n.kind.name == "MLP"]
    assert sorted(sum(s.shape[-1] for s in report.network_inputs[n]) for n in stages) == [6, 12]
    assert all(isinstance(n, Network) for n in report.network_inputs)


def test_networks_are_sized_without_running_a_module(monkeypatch: pytest.MonkeyPatch):
    ran: list[str] = []
    original = torch.nn.Module.__call__

    def recording(self: torch.nn.Module, *args: object, **kwargs: object) -> object:
        ran.append(type(self).__name__)
        return original(self, *args, **kwargs)

    report = rldsl.check(PIPE)
    from rldsl.compiler.program import compile_report

    monkeypatch.setattr(torch.nn.Module, "__call__", recording)
    program = compile_report(report, check_inputs=False)
    monkeypatch.undo()
    assert ran == []  # built, never called
    body = program["body"].module
    assert [type(m).__name__ for m in body] == ["Linear", "Tanh", "MLP", "ReLU"]
    assert body[2][0].in_features == 6  # the MLP after Linear(5, 6): the checker's width
    assert program["both"].module[0].in_features == 12  # two inputs concatenated: 5 + 7


def test_the_compiler_names_no_parameter():
    """Per-kind facts live in the kind description: the compiler's source names no parameter."""
    names = {param.name for kind in KINDS for param in kind.params} - {"device", "dtype"}
    for path in COMPILER.glob("*.py"):
        text = path.read_text()
        for name in names:
            assert not re.search(rf"""(args\[|\.param\(|==\s*)["']{re.escape(name)}["']""", text), (path.name, name)
        for name in ("in_features", "n_agent_inputs", "action_mask_key", "action_space", "action_value_key", "support"):
            assert f'"{name}"' not in text, (path.name, name)  # what they mean is Param.meaning / Param.derive


def test_input_sizes_and_inputs_are_described():
    for kind in KINDS:
        for param in kind.params:
            if param.meaning is Meaning.INPUT_SIZE:  # a network's input, or the first key a module reads
                assert kind.family in (Family.NETWORK, Family.MODULE) and param.type is ArgType.INT, \
                    (kind.name, param.name)
            if param.meaning is Meaning.INPUTS:
                assert param.type is ArgType.KEYS, (kind.name, param.name)
            if param.meaning in (Meaning.MASK, Meaning.LOG_PROBABILITIES):
                assert param.type is ArgType.KEY, (kind.name, param.name)
        if kind.family is Family.NETWORK:
            optional_size = [p for p in kind.params if p.name in ("in_features", "n_agent_inputs")]
            assert all(p.meaning is Meaning.INPUT_SIZE for p in optional_size), kind.name


def test_a_left_out_action_space_is_derived_from_the_spec():
    program = rldsl.compile("key observation : f32[3]\nkey values : f32[51, 4]\nkey action : onehot(4)\n"
                            "actor q = DistributionalQValueModule(support=linspace(-10, 10, 51), "
                            "action_value_key=values, spec=action)\n")
    assert program["q"].action_space == "one_hot"

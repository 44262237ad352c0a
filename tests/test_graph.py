"""`rldsl graph`: the key-flow graph as DOT (nodes, labelled edges, escaping), SVG via Graphviz, exit codes."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import pytest

import rldsl
from rldsl.lang import graph
from rldsl.cli_graph import add_graph_parser
from rldsl.lang.graph import dot_quote, key_flow_dot, run_graph

ROOT = Path(__file__).resolve().parents[1]
SAC = ROOT / "examples" / "pendulum_sac.rlm"
DQN = ROOT / "examples" / "cartpole_dqn.rlm"
BROKEN = ROOT / "examples" / "errors" / "obsevation.rlm"

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_NODE = re.compile(rf"^\s*{_QUOTED} \[(.*)\];$")
_EDGE = re.compile(rf"^\s*{_QUOTED} -> {_QUOTED} \[(.*)\];$")
_ATTR = re.compile(rf"(\w+)=({_QUOTED}|[^,\s]+)")


def _unquote(text: str) -> str:
    """A DOT quoted string's body back to text (``\\n`` as a line break)."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1): _unquote(m.group(3)) if m.group(3) is not None else m.group(2) for m in _ATTR.finditer(text)}


def parse_dot(text: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]:
    """The nodes (id -> attributes) and edges (source, target, attributes) of our DOT output."""
    nodes, edges = {}, []
    for line in text.splitlines():
        edge = _EDGE.match(line)
        if edge:
            edges.append((_unquote(edge.group(1)), _unquote(edge.group(2)), _attrs(edge.group(3))))
            continue
        node = _NODE.match(line)
        if node:
            nodes[_unquote(node.group(1))] = _attrs(node.group(2))
    return nodes, edges


def labelled(edges: list[tuple[str, str, dict[str, str]]]) -> set[tuple[str, str, str]]:
    return {(source, target, attrs["label"]) for source, target, attrs in edges}


def graph_args(*argv: str) -> argparse.Namespace:
    """Arguments of `rldsl graph`, parsed by a fresh parser with only that subcommand."""
    parser = argparse.ArgumentParser(prog="rldsl")
    add_graph_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["graph", *argv])


def test_sac_nodes_and_edges() -> None:
    text = key_flow_dot(rldsl.check(SAC))
    assert text.startswith("digraph key_flow {") and text.rstrip().endswith("}")
    nodes, edges = parse_dot(text)
    boxes = {node: attrs["label"] for node, attrs in nodes.items() if attrs["shape"] == "box"}
    assert boxes == {"module:params": "params\nMLP >> NormalParamExtractor",
                     "module:policy": "policy\nProbabilisticActor",
                     "module:qvalue": "qvalue\nValueOperator", "module:critic": "critic\nValueOperator"}
    assert nodes["key:observation"]["shape"] == "ellipse"
    assert "key:action" not in nodes  # declared, but written by `policy`: an edge, not an input
    assert "key:reward" not in nodes  # provided by the env, read by nobody
    found = labelled(edges)
    assert ("module:params", "module:policy", "loc : f32[1]") in found
    assert ("module:params", "module:policy", "scale : f32[1] in [0.0001, inf]") in found
    assert ("module:policy", "module:qvalue", "action : f32[1] in [-2.0, 2.0]") in found
    assert {(s, t) for s, t, _ in found if s == "key:observation"} == {
        ("key:observation", f"module:{name}") for name in ("params", "policy", "qvalue", "critic")}
    sinks = {(s, t, attrs["style"]) for s, t, attrs in edges if t.startswith("out:")}
    assert sinks == {("module:qvalue", "out:state_action_value", "dashed"),
                     ("module:critic", "out:state_value", "dashed"), ("module:policy", "out:action_log_prob", "dashed")}
    assert all(nodes[t]["style"] == "dashed" for _, t, _ in sinks)


def test_dqn_nodes_and_edges() -> None:
    nodes, edges = parse_dot(key_flow_dot(rldsl.check(DQN)))
    assert nodes["module:q"]["label"] == "q\nQValueActor"
    assert nodes["module:q_explore"]["label"] == "q_explore\nEGreedyModule"
    assert nodes["key:observation"]["label"] == "observation\ndeclared"
    found = labelled(edges)
    assert ("module:q", "module:q_explore", "action : onehot(2)") in found
    assert ("key:observation", "module:q", "observation : f32[4]") in found
    assert ("module:q_explore", "out:action", "action : onehot(2)") in found
    assert ("module:q", "out:chosen_action_value", "chosen_action_value : f32[1]") in found
    assert not any(source == target for source, target, _ in found)


def test_every_edge_joins_declared_nodes() -> None:
    nodes, edges = parse_dot(key_flow_dot(rldsl.check(SAC)))
    assert all(source in nodes and target in nodes for source, target, _ in edges)


def test_output_is_deterministic() -> None:
    first = key_flow_dot(rldsl.check(SAC))
    assert key_flow_dot(rldsl.check(SAC)) == first
    nodes_lines = [line for line in first.splitlines() if "module:" in line and "->" not in line]
    assert nodes_lines == sorted(nodes_lines)


def test_quotes_and_backslashes_are_escaped() -> None:
    assert dot_quote('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert dot_quote("two\nlines") == '"two\\nlines"'
    assert _unquote(dot_quote('x\\"y')[1:-1]) == 'x\\"y'


def test_labels_from_env_sources_stay_parseable() -> None:
    text = key_flow_dot(rldsl.check(ROOT / "examples" / "actor_value_operator.rlm"))
    nodes, _ = parse_dot(text)
    assert nodes["key:observation"]["label"] == "observation\nenv `pendulum`"


def test_run_graph_prints_dot(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_graph(graph_args(str(DQN))) == 0
    out, err = capsys.readouterr()
    assert out == key_flow_dot(rldsl.check(DQN)) and err == ""


def test_run_graph_writes_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "g.dot"
    assert run_graph(graph_args(str(SAC), "-o", str(target), "--format", "dot")) == 0
    assert target.read_text(encoding="utf-8") == key_flow_dot(rldsl.check(SAC))
    assert capsys.readouterr().out == ""


def test_check_errors_exit_one_with_diagnostics(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_graph(graph_args(str(BROKEN))) == 1
    out, err = capsys.readouterr()
    assert out == "" and "error[E0301]: key `obsevation` is read but never written" in err


def test_missing_file_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_graph(graph_args(str(tmp_path / "nope.rlm"))) == 2
    err = capsys.readouterr().err
    assert err.startswith("rldsl: cannot read") and "Traceback" not in err


def test_directory_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_graph(graph_args(str(tmp_path))) == 2
    assert capsys.readouterr().err.startswith("rldsl: cannot read")


def test_unwritable_output_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_graph(graph_args(str(DQN), "-o", str(tmp_path / "missing" / "g.dot"))) == 2
    assert capsys.readouterr().err.startswith("rldsl: cannot write")


def test_missing_dot_program(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    target = tmp_path / "g.svg"
    assert run_graph(graph_args(str(DQN), "--format", "svg", "-o", str(target))) == 2
    out, err = capsys.readouterr()
    assert out == "" and not target.exists()
    assert len(err.strip().splitlines()) == 1
    assert "apt-get install graphviz" in err and "--format dot" in err


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as stop:
        graph_args(str(DQN), "--format", "pdf")
    assert stop.value.code == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` is not installed")
def test_svg_with_graphviz(tmp_path: Path) -> None:
    target = tmp_path / "g.svg"
    assert run_graph(graph_args(str(SAC), "--format", "svg", "-o", str(target))) == 0
    svg = target.read_text(encoding="utf-8")
    assert "<svg" in svg and "policy" in svg and "ProbabilisticActor" in svg


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` is not installed")
def test_png_with_graphviz(tmp_path: Path) -> None:
    target = tmp_path / "g.png"
    assert run_graph(graph_args(str(DQN), "--format", "png", "-o", str(target))) == 0
    assert target.read_bytes().startswith(b"\x89PNG")


def test_graph_does_not_import_torch() -> None:
    import subprocess

    code = ("import sys; from rldsl.lang.graph import key_flow_dot; import rldsl; "
            f"key_flow_dot(rldsl.check({str(SAC)!r})); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docstring_examples() -> None:
    import doctest

    result = doctest.testmod(graph, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0

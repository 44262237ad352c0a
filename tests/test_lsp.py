"""The language server, driven as an editor drives it: ``rldsl lsp`` in a subprocess, JSON-RPC over its
standard input and output with ``Content-Length`` framing (written here, not pygls's client), one
server for the module. Initialize, open a broken model and get its diagnostic with the right code and
range, fix it and get none, hover on a key and a kind, complete inside ``MLP(``, go to the definition
of keys and modules (across an include), format, shut down and exit. Then the parts in-process: the
completion contexts, the position encodings, and that serving never imports torch.

Skipped when pygls is missing (``pip install 'rldsl[lsp]'``; the ``test`` extra has it, so CI runs it).
"""

from __future__ import annotations

import doctest
import importlib
import json
import os
import pathlib
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pygls")

from lsprotocol import types  # noqa: E402

from rldsl.lang.printer import format_source  # noqa: E402
from rldsl.lang.source import SourceFile  # noqa: E402
from rldsl.lsp.analysis import analyze  # noqa: E402
from rldsl.lsp.completion import completions, resolve  # noqa: E402
from rldsl.lsp.positions import Positions  # noqa: E402

TIMEOUT = 60.0

COMMON = 'env pendulum = gym("Pendulum-v1")\nkey observation : f32[3]\n'

POLICY = """\
include "common.rlm"

key action : f32[1] in [-2.0, 2.0]

module params = MLP(out_features=2, num_cells=[64, 64]) >> NormalParamExtractor() : obsevation -> loc, scale
actor policy = ProbabilisticActor(params, in=[loc, scale], out=[action],
                                  dist=TanhNormal(low=action.low, high=action.high), spec=action)
value critic = ValueOperator(MLP(out_features=1), in=[observation])
"""

FIXED = POLICY.replace("obsevation", "observation")


class Client:
    """A minimal LSP client: requests, notifications and the server's messages, read by a thread."""

    def __init__(self, cwd: pathlib.Path) -> None:
        self.errors = tempfile.TemporaryFile()  # a file, not a pipe: what the server logs never blocks it
        self.process = subprocess.Popen([sys.executable, "-m", "rldsl", "lsp"], cwd=cwd, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.errors)
        self.incoming: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.backlog: list[dict[str, Any]] = []
        self.last_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            headers = {}
            while True:
                line = stream.readline()
                if not line:
                    self.incoming.put(None)
                    return
                if not line.strip():
                    break
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            self.incoming.put(json.loads(stream.read(int(headers["content-length"]))))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        self.last_id += 1
        wanted = self.last_id
        self.send({"id": wanted, "method": method, "params": params})
        reply = self._wait(lambda m: m.get("id") == wanted and "method" not in m)
        assert "error" not in reply, reply["error"]
        return reply["result"]

    def notification(self, method: str, accept: Callable[[Any], bool] = lambda params: True) -> Any:
        """The params of the first notification ``method`` that ``accept`` takes (seen already, or next)."""
        for message in self.backlog:
            if message.get("method") == method and accept(message["params"]):
                self.backlog.remove(message)
                return message["params"]
        return self._wait(lambda m: m.get("method") == method and accept(m["params"]))["params"]

    def _wait(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self.incoming.get(timeout=max(0.0, deadline - time.monotonic()))
            if message is None:
                self.errors.seek(0)
                raise AssertionError(f"the server stopped: {self.errors.read().decode(errors='replace')}")
            if wanted(message):
                return message
            self.backlog.append(message)

    def diagnostics(self, uri: str, version: int) -> list[dict[str, Any]]:
        """The diagnostics published for version ``version`` of a document."""
        return self.notification("textDocument/publishDiagnostics",
                                 lambda p: p["uri"] == uri and p.get("version") == version)["diagnostics"]

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout, self.errors):
            stream.close()

    def open(self, uri: str, text: str, version: int = 1) -> list[dict[str, Any]]:
        self.notify("textDocument/didOpen",
                    {"textDocument": {"uri": uri, "languageId": "rlm", "version": version, "text": text}})
        return self.diagnostics(uri, version)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("lsp")
    (path / "common.rlm").write_text(COMMON)
    (path / "policy.rlm").write_text(POLICY)
    return path


@pytest.fixture(scope="module")
def server(folder: pathlib.Path) -> Iterator[Client]:
    client = Client(folder)
    client.initialize_result = client.request("initialize", {
        "processId": os.getpid(), "rootUri": folder.as_uri(),
        "capabilities": {"general": {"positionEncodings": ["utf-16"]},
                         "textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]}}}})
    client.notify("initialized", {})
    yield client
    try:
        if client.process.poll() is None:
            client.request("shutdown", None)
            client.notify("exit", None)
            client.process.wait(timeout=TIMEOUT)
    finally:
        if client.process.poll() is None:
            client.process.kill()
        client.close()


@pytest.fixture(scope="module")
def policy(server: Client, folder: pathlib.Path) -> str:
    """The fixed policy, open in the server: its URI."""
    uri = (folder / "fixed.rlm").as_uri()
    assert server.open(uri, FIXED) == []
    return uri


def _at(text: str, word: str, after: int = 1, occurrence: int = 0) -> dict[str, int]:
    """The LSP position ``after`` characters into the ``occurrence``-th ``word`` of ``text`` (ASCII)."""
    offset = -1
    for _ in range(occurrence + 1):
        offset = text.index(word, offset + 1)
    offset += after
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


# ---------------------------------------------------------------------------------------------
# Over stdio


def test_initialize_announces_every_feature(server: Client) -> None:
    result = server.initialize_result
    capabilities = result["capabilities"]
    assert result["serverInfo"]["name"] == "rldsl"
    assert capabilities["hoverProvider"] and capabilities["definitionProvider"]
    assert capabilities["documentFormattingProvider"]
    assert "(" in capabilities["completionProvider"]["triggerCharacters"]
    assert capabilities["textDocumentSync"]["openClose"]
    assert capabilities.get("positionEncoding", "utf-16") == "utf-16"


def test_a_broken_model_gets_its_diagnostic_and_fixing_it_clears_it(server: Client, folder: pathlib.Path) -> None:
    uri = (folder / "policy.rlm").as_uri()
    diagnostics = server.open(uri, POLICY)
    assert [d["code"] for d in diagnostics] == ["E0301"]
    [diagnostic] = diagnostics
    start = _at(POLICY, "obsevation", after=0)
    assert diagnostic["range"] == {"start": start, "end": {**start, "character": start["character"] + 10}}
    assert diagnostic["severity"] == 1 and diagnostic["source"] == "rldsl"
    assert diagnostic["message"].startswith("key `obsevation` is read but never written")
    assert "help: did you mean `observation`?" in diagnostic["message"]
    # an incremental change: the misspelt word replaced by the right one
    server.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"range": diagnostic["range"], "text": "observation"}]})
    assert server.diagnostics(uri, 2) == []
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert server.notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)["diagnostics"] == []


def test_diagnostic_columns_count_utf16_code_units(server: Client, folder: pathlib.Path) -> None:
    line = ('module body = MLP(out_features=2) >> NormalParamExtractor(scale_mapping="é😀") '
            ': obsevation -> loc, scale')
    text = f"key observation : f32[3]\n{line}\n"
    diagnostics = server.open((folder / "utf16.rlm").as_uri(), text)
    [read] = [d for d in diagnostics if d["code"] == "E0301"]
    prefix = line[:line.index("obsevation")]
    assert read["range"]["start"] == {"line": 1, "character": len(prefix.encode("utf-16-le")) // 2}
    assert read["range"]["start"]["character"] == len(prefix) + 1  # the emoji is two UTF-16 units


def test_a_problem_in_an_included_file_is_shown_at_the_include(server: Client, folder: pathlib.Path) -> None:
    (folder / "bad_common.rlm").write_text("key observation : f33[3]\n")
    text = 'include "bad_common.rlm"\nkey action : f32[1]\n'
    [diagnostic] = server.open((folder / "includes_bad.rlm").as_uri(), text)
    assert diagnostic["range"]["start"] == {"line": 0, "character": 0}
    assert diagnostic["message"].startswith("in ") and "bad_common.rlm:1:" in diagnostic["message"]
    [related, *_] = diagnostic["relatedInformation"]
    assert related["location"]["uri"] == (folder / "bad_common.rlm").as_uri()


def test_hover_on_a_key_shows_its_inferred_spec_and_source(server: Client, policy: str) -> None:
    hover = server.request("textDocument/hover", {"textDocument": {"uri": policy},
                                                  "position": _at(FIXED, "action]")})
    text = hover["contents"]["value"]
    assert hover["contents"]["kind"] == "markdown"
    assert "key action : f32[1] in [-2.0, 2.0]" in text
    assert "written by `policy`" in text and "TanhNormal(low=-2.0, high=2.0)" in text
    assert hover["range"]["start"] == _at(FIXED, "action]", after=0)
    written = server.request("textDocument/hover", {"textDocument": {"uri": policy},
                                                    "position": _at(FIXED, "loc,", occurrence=0)})
    assert "key loc : f32[1]" in written["contents"]["value"]
    assert "written by `params`" in written["contents"]["value"]


def test_hover_on_a_kind_shows_its_summary_and_parameters(server: Client, policy: str) -> None:
    hover = server.request("textDocument/hover", {"textDocument": {"uri": policy}, "position": _at(FIXED, "MLP")})
    text = hover["contents"]["value"]
    assert "A multi-layer perceptron" in text
    assert "| `out_features` |" in text and "| `num_cells` |" in text
    assert "type rule:" in text
    param = server.request("textDocument/hover", {"textDocument": {"uri": policy},
                                                  "position": _at(FIXED, "num_cells")})
    assert "parameter of `MLP`" in param["contents"]["value"]
    nothing = server.request("textDocument/hover", {"textDocument": {"uri": policy},
                                                    "position": {"line": 1, "character": 0}})
    assert nothing is None


def test_completion_inside_a_kind_call_offers_its_parameters(server: Client, policy: str) -> None:
    text = FIXED + "module extra = MLP("
    server.notify("textDocument/didChange", {"textDocument": {"uri": policy, "version": 2},
                                             "contentChanges": [{"text": text}]})
    end = {"line": text.count("\n"), "character": len(text.rsplit("\n", 1)[1])}
    result = server.request("textDocument/completion", {"textDocument": {"uri": policy}, "position": end})
    items = {item["label"]: item for item in result["items"]}
    assert items["out_features"]["insertText"] == "out_features="
    assert "required" in items["out_features"]["detail"]
    assert "num_cells" in items and "observation" in items
    server.notify("textDocument/didChange", {"textDocument": {"uri": policy, "version": 3},
                                             "contentChanges": [{"text": FIXED}]})
    assert server.diagnostics(policy, 3) == []


def test_completion_resolves_a_kind_with_its_description(server: Client, policy: str) -> None:
    item = {"label": "MLP", "kind": 7, "data": {"kind": "MLP"}}
    resolved = server.request("completionItem/resolve", item)
    assert "out_features" in resolved["documentation"]["value"]


def test_definition_of_keys_modules_and_includes(server: Client, policy: str, folder: pathlib.Path) -> None:
    def definition(word: str, occurrence: int = 0) -> dict[str, Any]:
        return server.request("textDocument/definition", {"textDocument": {"uri": policy},
                                                          "position": _at(FIXED, word, occurrence=occurrence)})

    declared = definition("action.low")
    assert declared["uri"] == policy and declared["range"]["start"] == _at(FIXED, "action :", after=0)
    included = definition("observation])")
    assert included["uri"] == (folder / "common.rlm").as_uri()
    assert included["range"] == {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 15}}
    written = definition("loc,", occurrence=1)  # in=[loc, ...] -> the `loc` its writer names
    assert written["range"]["start"] == _at(FIXED, "loc,", after=0, occurrence=0)
    module = definition("params,")
    assert module["range"]["start"] == _at(FIXED, "params =", after=0)
    file = definition('"common.rlm"')
    assert file["uri"] == (folder / "common.rlm").as_uri()


def test_formatting_returns_one_whole_document_edit(server: Client, folder: pathlib.Path) -> None:
    text = "key   observation:f32[3]\nmodule body=MLP(out_features=2):observation->hidden\n"
    uri = (folder / "unformatted.rlm").as_uri()
    server.open(uri, text)
    options = {"tabSize": 4, "insertSpaces": True}
    [edit] = server.request("textDocument/formatting", {"textDocument": {"uri": uri}, "options": options})
    assert edit["newText"] == format_source(SourceFile("unformatted.rlm", text))[0]
    assert edit["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}
    formatted = edit["newText"]
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": formatted}]})
    assert server.request("textDocument/formatting", {"textDocument": {"uri": uri}, "options": options}) == []
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},
                                             "contentChanges": [{"text": "key observation f32[3]\n"}]})
    assert server.request("textDocument/formatting", {"textDocument": {"uri": uri}, "options": options}) is None


def test_a_suggested_fix_is_a_quick_fix(server: Client, folder: pathlib.Path) -> None:
    text = "key observation : f32[3]\nmodule body = MLP(out_fetures=2) : observation -> hidden\n"
    uri = (folder / "typo.rlm").as_uri()
    [fixable] = [d for d in server.open(uri, text) if d["code"] == "E0602"]
    actions = server.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": fixable["range"],
                                                         "context": {"diagnostics": [fixable]}})
    [action] = actions
    assert action["kind"] == "quickfix" and "out_features" in action["title"]
    [edit] = action["edit"]["changes"][uri]
    assert edit == {"range": fixable["range"], "newText": "out_features"}
    elsewhere = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 3}}
    assert server.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": elsewhere,
                                                      "context": {"diagnostics": []}}) == []


def test_shutdown_then_exit_ends_the_server(tmp_path: pathlib.Path) -> None:
    client = Client(tmp_path)
    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    client.notify("initialized", {})
    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.process.wait(timeout=TIMEOUT) == 0
    client.close()


# ---------------------------------------------------------------------------------------------
# In-process: the completion contexts, positions


def _complete(text: str, base: str = FIXED, name: str = "m.rlm") -> dict[str, types.CompletionItem]:
    path = os.path.abspath(name)
    previous = analyze("file:///m.rlm", path, base)
    full = base + text
    analysis = analyze("file:///m.rlm", path, full, previous=previous)
    end = types.Position(full.count("\n"), len(full.rsplit("\n", 1)[1]))
    return {item.label: item for item in completions(analysis, end)}


def test_completion_contexts(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "common.rlm").write_text(COMMON)
    given = _complete("module extra = MLP(out_features=2, ")
    assert "out_features" not in given and "num_cells" in given
    assert {"TanhNormal", "Categorical"} <= set(_complete("actor p = ProbabilisticActor(params, dist="))
    assert "MLP" not in _complete("actor p = ProbabilisticActor(params, dist=")
    assert {"ReLU", "Tanh"} <= set(_complete("module extra = MLP(out_features=1, activation_class="))
    keys = _complete("module extra = MLP(out_features=1) : observation -> ")
    assert keys["loc"].detail == "f32[1]" and "MLP" not in keys
    assert {"f32", "i64", "onehot", "categorical"} <= set(_complete("key extra : "))
    assert {"low", "high", "shape"} <= set(_complete("key extra : f32[1] in [action."))
    assert {"reward", "done"} <= set(_complete("key extra : pendulum."))
    assert {"key", "module", "actor", "include"} <= set(_complete("mo"))
    assert _complete("# MLP(") == {} and _complete('env e = gym("Pen') == {}
    assert {'"deterministic"', '"random"'} <= set(_complete("actor p = ProbabilisticActor(params, "
                                                            "default_interaction_type="))
    inner = _complete("module conv = ConvNet(num_cells=[8]) >> MLP(out_features=2)\n"
                      "value v = DuelingCnnDQNet(out_features=2, cnn_kwargs=dict(")
    assert "num_cells" in inner and "kernel_sizes" in inner


def test_completion_item_resolve_fills_in_the_kind_description() -> None:
    item = resolve(types.CompletionItem(label="TanhNormal", data={"kind": "TanhNormal"}))
    assert "`low`" in item.documentation.value
    plain = resolve(types.CompletionItem(label="observation"))
    assert plain.documentation is None


@pytest.mark.parametrize("encoding, expected", [("utf-16", 5), ("utf-8", 8), ("utf-32", 4)])
def test_positions_count_code_units_of_the_agreed_encoding(encoding: str, expected: int) -> None:
    positions = Positions("# é😀x\nkey a : f32[1]\n", encoding)
    assert positions.position(4) == (0, expected)  # just after the emoji
    assert positions.offset(0, expected) == 4
    assert positions.position(6) == (1, 0) and positions.offset(1, 0) == 6
    assert positions.offset(0, 999) == 5 and positions.offset(9, 0) == len("# é😀x\nkey a : f32[1]\n")


def test_positions_keep_a_byte_order_mark_out_of_rldsl_offsets() -> None:
    positions = Positions("\ufeffkey a : f32[1]\n")
    assert positions.position(0) == (0, 1)
    assert positions.offset(0, 1) == 0 and positions.end() == (1, 0)


def test_serving_never_imports_torch(tmp_path: pathlib.Path) -> None:
    script = ("import sys; import rldsl.lsp.server as s; from rldsl.lsp.analysis import analyze; "
              "from rldsl.lsp.hover import hover; from lsprotocol import types; "
              "a = analyze('file:///x.rlm', 'x.rlm', open('examples/pendulum_sac.rlm').read()); "
              "hover(a, types.Position(9, 20)); assert 'torch' not in sys.modules, 'torch imported'")
    root = pathlib.Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


DIMS = """\
dim n_agents = 3
env pendulum = gym("Pendulum-v1")
key agents : { observation: f32[n_agents, 4], action: f32[n_agents, 2] }
module body = MLP(out_features=2) : agents.observation -> agents.action
"""


def _analysis(text: str) -> Any:
    return analyze("file:///dims.rlm", os.path.abspath("dims.rlm"), text)


def test_definition_and_hover_of_dims_envs_and_nested_keys() -> None:
    from rldsl.lsp.definition import definition
    from rldsl.lsp.hover import hover

    analysis = _analysis(DIMS)
    assert analysis.report.ok, analysis.report.render()

    def position(word: str, occurrence: int = 0, after: int = 1) -> types.Position:
        at = _at(DIMS, word, after=after, occurrence=occurrence)
        return types.Position(at["line"], at["character"])

    dim = definition(analysis, position("n_agents", occurrence=1))
    assert (dim.range.start.line, dim.range.start.character) == (0, 4)
    assert "dim n_agents = 3" in hover(analysis, position("n_agents", occurrence=2)).contents.value
    field = definition(analysis, position("agents.observation", after=8))  # on `observation`
    assert (field.range.start.line, field.range.start.character) == (2, 15)
    nested = hover(analysis, position("agents.action", after=9)).contents.value
    assert "key agents.action : f32[n_agents, 2]" in nested and "written by `body`" in nested
    whole = hover(analysis, position("agents.action", after=2)).contents.value  # on `agents`
    assert "key agents : {" in whole
    env = hover(analysis, position("pendulum")).contents.value
    assert 'gym("Pendulum-v1")' in env and "`reward` : f32[1]" in env
    assert definition(analysis, position("MLP")) is None


def test_hover_on_an_argument_of_an_inner_kind_names_that_kind() -> None:
    from rldsl.lsp.hover import hover

    line = "value v = DuelingCnnDQNet(out_features=2, cnn_kwargs=dict(num_cells=[8])) : pixels -> action_value"
    analysis = _analysis(f"key pixels : f32[3, 84, 84]\n{line}\n")
    shown = hover(analysis, types.Position(1, line.index("num_cells") + 1)).contents.value
    assert "parameter of `ConvNet`" in shown


TOKENS = ["key ", "module ", "actor ", "dim ", "env ", "include ", "value ", "observation", "action", "MLP",
          "(", ")", "[", "]", "{", "}", "=", ":", "->", ">>", ",", ".", " ", "\n", "out_features", "3", "f32",
          "'s", '"x', "#", "é😀", "in", "TanhNormal", "dict", "agents", "\t", "\r\n"]


@settings(max_examples=60)
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.integers(0, 400))
def test_every_feature_answers_on_any_text_at_any_position(tokens: list[str], at: int) -> None:
    from rldsl.lsp.definition import definition
    from rldsl.lsp.diagnostics import lsp_diagnostics
    from rldsl.lsp.formatting import format_document
    from rldsl.lsp.hover import hover

    text = "".join(tokens)
    analysis = _analysis(text)
    lsp_diagnostics(analysis)
    format_document(text, "dims.rlm")
    line = min(at // 40, text.count("\n"))
    position = types.Position(line, at % 40)
    hover(analysis, position)
    definition(analysis, position)
    completions(analysis, position)


@pytest.mark.parametrize("name", ["positions", "symbols", "index", "cursor", "kinddocs"])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"rldsl.lsp.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0

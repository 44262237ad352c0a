"""Kinds of your own (`rldsl.register_kind`): a registered class is checked by its type rule and
compiled from the class object; bad registrations are refused with a clear error; wrong uses in a
model are diagnostics (E0441, E0442 and the usual argument codes); the command line sees
registered kinds only through `--import-kinds`, and a model naming a kind nobody registered, or a
dotted path, imports nothing (tested in a fresh process, in the style of tests/test_security.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModuleBase

import rldsl
from rldsl.compiler import CompileError
from rldsl.compiler.build import runtime_class
from rldsl.lang.check import check_text
from rldsl.lang.kinds import BY_NAME, REGISTERED, lookup, suggest_kind
from rldsl.registry import (ArgType, KindRegistrationError, KindRuleError, Meaning, Param, Pass, register_kind,
                            registered_kinds, unregister_kind)

ROOT = Path(__file__).resolve().parents[1]
HEAD = "key observation : f32[3]\n"


@pytest.fixture(autouse=True)
def forget_registered_kinds():
    """Every test starts and ends with rldsl's own kinds only."""
    before = set(REGISTERED)
    yield
    for name in set(REGISTERED) - before:
        unregister_kind(name)


class Gated(torch.nn.Module):
    """A linear layer and its activated copy.

    Two outputs, ``[*B, out_features]`` each.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 activation_class: type = torch.nn.Tanh) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(in_features, out_features, bias=bias)
        self.activation = activation_class()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.linear(x)
        return y, self.activation(y)


def gated_rule(inputs: list, args) -> list:
    if len(inputs) != 1:
        raise KindRuleError(f"Gated reads one tensor, got {len(inputs)}", help="read one key")
    if args["out_features"] > 64:
        raise KindRuleError("at most 64 outputs", argument="out_features", help="use a smaller layer")
    shape = (*inputs[0][:-1], args["out_features"])
    return [shape, shape]


GATED_PARAMS = [
    Param("in_features", ArgType.INT, None, "input size", meaning=Meaning.INPUT_SIZE),
    Param("out_features", ArgType.INT, doc="output size"),
    Param("bias", ArgType.BOOL, True, "whether the layer has a bias"),
    Param("activation_class", ArgType.ACTIVATION, "Tanh", "the activation of the second output"),
]


def register_gated(**options) -> object:
    return register_kind("Gated", Gated, params=GATED_PARAMS, shape=gated_rule, **options)


class Summed(TensorDictModuleBase):
    """Writes the sum of its input's last dim, scaled."""

    def __init__(self, in_keys: list, out_keys: list, scale: float = 1.0) -> None:
        super().__init__()
        self.in_keys, self.out_keys, self.scale = list(in_keys), list(out_keys), scale

    def forward(self, tensordict: TensorDict) -> TensorDict:
        total = tensordict.get(self.in_keys[0]).sum(-1, keepdim=True) * self.scale
        tensordict.set(self.out_keys[0], total)
        return tensordict


def register_summed(**options) -> object:
    options.setdefault("in_keys", ["observation"])
    options.setdefault("out_keys", ["total"])
    return register_kind("Summed", Summed, family="module", params=[Param("scale", ArgType.FLOAT, 1.0, "the factor")],
                         shape=lambda inputs, args: (*inputs[0][:-1], 1), **options)


def errors(text: str) -> list:
    return list(check_text(HEAD + text, "a.rlm").errors)


def only(text: str, code: str):
    found = errors(text)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def spanned(text: str, diagnostic) -> str:
    return (HEAD + text)[diagnostic.span.start:diagnostic.span.end]


# --- a registered network ----------------------------------------------------------------------------------------


def test_a_registered_network_is_checked_by_its_rule_and_compiled_from_its_class() -> None:
    kind = register_gated()
    assert lookup("Gated") is kind and BY_NAME["Gated"] is kind and registered_kinds() == (kind,)
    assert runtime_class(kind) is Gated and kind.runtime == f"{__name__}.Gated"
    assert kind.summary == "A linear layer and its activated copy."
    text = "dim n = 2\nkey pair : f32[n, 5]\nmodule g = Gated(out_features=4, activation_class=ReLU) : pair -> y, h\n" \
           "value v = ValueOperator(MLP(out_features=1), in=[y, h])\n"
    report = check_text(HEAD + text)
    assert report.ok, report.render()
    assert report.types["y"] == "f32[n, 4]" and report.types["h"] == "f32[n, 4]"
    program = rldsl.compile(HEAD + text)
    gated = program["g"].module
    assert isinstance(gated, Gated) and gated.linear.in_features == 5 and isinstance(gated.activation, torch.nn.ReLU)
    out = program["v"](program["g"](TensorDict(pair=torch.randn(7, 2, 5), batch_size=[7])))
    assert out["state_value"].shape == (7, 2, 1)
    assert torch.equal(out["h"], torch.relu(out["y"]))


class Scaled(torch.nn.Module):
    """A linear layer squashed by tanh: one output ``[*B, out_features]``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(x))


def test_a_registered_network_works_inside_actors_and_pipes() -> None:
    register_kind("Scaled", Scaled, params=GATED_PARAMS[:2], shape=lambda inputs, args: (args["out_features"],))
    text = "key action : f32[2] in [-1.0, 1.0]\nactor a = Actor(MLP(out_features=8) >> Scaled(out_features=2) >> " \
           "NormalParamExtractor(), out=[loc, scale])\n"
    report = check_text(HEAD + text)
    assert report.ok and report.types["loc"] == "f32[1]", report.render()
    net = rldsl.compile(HEAD + text)["a"].module
    assert [type(m).__name__ for m in net] == ["MLP", "Scaled", "NormalParamExtractor"]
    assert net[1].linear.in_features == 8


def test_a_kind_whose_class_does_not_do_what_its_shape_rule_says_fails_at_compile() -> None:
    """`rldsl.compile` calls every module once: a registered class returning two tensors where its
    description promises one is a CompileError naming the module, not a crash in training."""
    register_kind("OneOfTwo", Gated, params=GATED_PARAMS[:2], shape=lambda inputs, args: (args["out_features"],))
    text = "module m = MLP(out_features=8) >> OneOfTwo(out_features=2) >> Tanh() : observation -> y\n"
    assert check_text(HEAD + text).ok
    with pytest.raises(CompileError, match="`m` checks clean but fails its first call"):
        rldsl.compile(HEAD + text)
    assert list(rldsl.compile(HEAD + text, validate=False)) == ["m"]


def test_positional_parameters_and_the_python_builder() -> None:
    register_kind("Twice", Gated, params=[Param("in_features", ArgType.INT, doc="input size", positional=True),
                                          Param("out_features", ArgType.INT, doc="output size", positional=True)],
                  shape=lambda inputs, args: [(*inputs[0][:-1], args["out_features"])] * 2)
    program = rldsl.compile(HEAD + "module t = Twice(3, 6) : observation -> a, b\n")
    assert program["t"].module.linear.out_features == 6
    from rldsl.build import Model, Twice

    model = Model()
    model.key("observation", "f32[3]")
    model.module("t", Twice(3, 6), reads=["observation"], writes=["a", "b"])
    assert model.check().types["a"] == "f32[6]"
    assert "module t = Twice(3, 6) : observation -> a, b" in model.to_source()


def test_a_dim_of_unknown_size_reaches_the_rule_by_name() -> None:
    seen = []
    register_kind("Seen", Gated, params=GATED_PARAMS[:2],
                  shape=lambda inputs, args: seen.append(inputs) or ("batch", args["out_features"]))
    report = check_text("dim batch\nkey observation : f32[batch, 3]\n"
                        "module s = Seen(out_features=2) : observation -> y\n")
    assert report.ok, report.render()
    assert seen == [[("batch", 3)]] and report.types["y"] == "f32[batch, 2]"


def test_the_rule_sees_plain_argument_values() -> None:
    seen = {}

    def rule(inputs, args):
        seen.update(args)
        return inputs[0]

    register_kind("Plain", Gated, params=[*GATED_PARAMS, Param("sizes", ArgType.INTS, (1, 2), "sizes",
                                                              passed=Pass.LANGUAGE),
                                          Param("mode", ArgType.CHOICE, "a", "mode", choices=("a", "b"),
                                                passed=Pass.LANGUAGE)], shape=rule)
    assert check_text("dim k = 3\n" + HEAD + "module p = Plain(out_features=k, sizes=[4, k], mode=\"b\", "
                      "activation_class=ELU) : observation -> y\n").ok
    assert seen == {"in_features": None, "out_features": 3, "bias": True, "activation_class": "ELU", "sizes": (4, 3),
                    "mode": "b"}


# --- a registered module -----------------------------------------------------------------------------------------


def test_a_registered_module_reads_and_writes_its_keys() -> None:
    register_summed(role="value")
    report = check_text(HEAD + "value s = Summed(scale=3.0)\nvalue t = Summed(in=[total], out=[again])\n")
    assert report.ok, report.render()
    assert report.types["total"] == "f32[1]" and report.types["again"] == "f32[1]"
    program = rldsl.compile(HEAD + "value s = Summed(scale=3.0)\n")
    module = program["s"]
    assert isinstance(module, Summed) and module.scale == 3.0 and module.in_keys == ["observation"]
    out = module(TensorDict(observation=torch.ones(2, 3), batch_size=[2]))
    assert out["total"].tolist() == [[9.0], [9.0]]


def test_a_registered_module_without_default_keys_needs_them() -> None:
    register_summed(in_keys=None, out_keys=None)
    found = only("module s = Summed(in=[observation])\n", "E0603")
    assert "`out`" in found.message
    found = only("module s = Summed([observation], [a, b])\n", "E0305")
    assert "gives 1 tensor" in found.message


def test_a_registered_module_role_is_checked_like_any_other() -> None:
    register_summed(role="value")
    report = check_text(HEAD + "actor s = Summed()\n")
    assert "W0201" in [d.code for d in report.diagnostics] and report.ok


# --- wrong uses in a model ---------------------------------------------------------------------------------------


def test_a_refusal_of_the_rule_is_a_diagnostic_at_the_argument_it_names() -> None:
    register_gated()
    text = "module g = Gated(out_features=100) : observation -> y, h\n"
    found = only(text, "E0441")
    assert found.message == "Gated refuses its arguments: at most 64 outputs" and found.help == "use a smaller layer"
    assert spanned(text, found) == "100"
    found = only("key other : f32[2]\nmodule g = Gated(out_features=2) : observation, other -> y, h\n", "E0441")
    assert "reads one tensor, got 2" in found.message and found.help == "read one key"


@pytest.mark.parametrize("rule,words", [
    (lambda inputs, args: 1 / 0, "raised ZeroDivisionError: division by zero"),
    (lambda inputs, args: None, "returned None, not a shape"),
    (lambda inputs, args: (3, 0), "dim 0 is not a positive size"),
    (lambda inputs, args: (3, "nope"), "dim 'nope' is not a positive size"),
    (lambda inputs, args: [(3,), "x"], "not a shape"),
    (lambda inputs, args: (3.5,), "not a shape"),
    (lambda inputs, args: (True,), "not a shape"),
])
def test_a_broken_rule_is_a_diagnostic_never_a_crash(rule, words: str) -> None:
    register_kind("Broken", Gated, params=GATED_PARAMS[:2], shape=rule)
    text = "module b = Broken(out_features=2) : observation -> y\n"
    found = only(text, "E0442")
    assert words in found.message, found.message
    assert spanned(text, found) == "Broken(out_features=2)" and "register_kind(\"Broken\"" in found.help


def test_a_huge_output_is_a_size_diagnostic() -> None:
    register_kind("Huge", Gated, params=GATED_PARAMS[:2], shape=lambda inputs, args: (2**31,))
    assert "too large" in only("module h = Huge(out_features=2) : observation -> y\n", "E0410").message
    register_kind("Wide", Gated, params=GATED_PARAMS[:2], shape=lambda inputs, args: (2**30, 2**30))
    only("module h = Wide(out_features=2) : observation -> y\n", "E0411")


def test_arguments_of_a_registered_kind_are_bound_like_any_other() -> None:
    register_gated()
    found = only("module g = Gated(out_features=2, bais=false) : observation -> y, h\n", "E0602")
    assert found.help == "did you mean `bias`?"
    assert "needs `out_features`" in only("module g = Gated() : observation -> y, h\n", "E0603").message
    only("module g = Gated(out_features=\"two\") : observation -> y, h\n", "E0604")
    only("module g = Gated(out_features=2, activation_class=Swish) : observation -> y, h\n", "E0204")


def test_inputs_are_checked_before_the_rule_runs() -> None:
    register_gated()
    found = only("key tokens : i64[3]\nmodule g = Gated(out_features=2) : tokens -> y, h\n", "E0503")
    assert "Gated reads floating-point tensors" in found.message
    register_kind("Embed", Gated, params=GATED_PARAMS[:2], float_inputs=False, dtype="f32",
                  shape=lambda inputs, args: (*inputs[0], args["out_features"]))
    report = check_text(HEAD + "key tokens : i64[3]\nmodule e = Embed(out_features=2) : tokens -> y\n")
    assert report.ok and report.types["y"] == "f32[3, 2]", report.render()


def test_unregistered_or_dotted_names_are_unknown_kinds() -> None:
    found = only("module g = Gated(out_features=2) : observation -> y, h\n", "E0204")
    assert "rldsl.register_kind" in found.help and "--import-kinds" in found.help
    register_gated()
    found = only("module g = Gatd(out_features=2) : observation -> y, h\n", "E0204")
    assert found.help == "did you mean `Gated`?" and suggest_kind("Gatedd") == "Gated"
    only("module g = tests.test_register_kind.Gated(out_features=2) : observation -> y, h\n", "E0204")
    unregister_kind("Gated")
    only("module g = Gated(out_features=2) : observation -> y, h\n", "E0204")


# --- bad registrations -------------------------------------------------------------------------------------------

INT = ArgType.INT


@pytest.mark.parametrize("name,options,words", [
    ("gated", {}, "class name"),
    ("my.Gated", {}, "no dots"),
    ("Gäted", {}, "class name"),
    ("MLP", {}, "one of rldsl's kinds"),
    ("VmapModule", {}, "one of rldsl's kinds"),
    ("Ok", {"cls": Gated(3, 2)}, "class object itself"),
    ("Ok", {"cls": dict}, "torch.nn.Module"),
    ("Ok", {"cls": Gated, "family": "module"}, "tensordict module"),
    ("Ok", {"family": "distribution"}, '"network" or "module"'),
    ("Ok", {"params": ["in_features"]}, "Param objects"),
    ("Ok", {"params": [Param("out_features", INT, doc="a"), Param("out_features", INT, doc="b")]}, "twice"),
    ("Ok", {"params": [Param("in", INT, doc="a")]}, "cannot name a parameter"),
    ("Ok", {"params": [Param("key", ArgType.KEY, doc="a")]}, "not available to registered kinds"),
    ("Ok", {"params": [Param("net", ArgType.NETWORK, doc="a")]}, "not available to registered kinds"),
    ("Ok", {"params": [Param("out_features", INT, "4", "a")]}, "is not an integer"),
    ("Ok", {"params": [Param("out_features", ArgType.INTS, [4], "a")]}, "lists are tuples"),
    ("Ok", {"params": [Param("mode", ArgType.CHOICE, "c", "a", choices=("a", "b"))]}, "not one of the choices"),
    ("Ok", {"params": [Param("act", ArgType.ACTIVATION, "Swish", "a")]}, "activation class"),
    ("Ok", {"params": [Param("out_features", INT, doc="a"), Param("width", INT, 3, "a")]}, "takes no argument `width`"),
    ("Ok", {"params": [Param("in_features", INT, doc="a")]}, "needs `out_features`"),
    ("Ok", {"params": [Param("in_features", INT, None, "a"), Param("out_features", INT, doc="a")]},
     "needs `in_features`"),
    ("Ok", {"params": [Param("out_features", INT, doc="a", positional=True), Param("in_features", INT, doc="a")]},
     "passed by position as argument 1"),
    ("Ok", {"params": [*GATED_PARAMS[:2], Param("size", INT, None, "a", meaning=Meaning.INPUT_SIZE,
                                                passed=Pass.LANGUAGE)]}, "INPUT_SIZE"),
    ("Ok", {"params": [*GATED_PARAMS[:2], Param("x", INT, 1, "a", passed=Pass.BEFORE)]}, "Pass.ARG"),
    ("Ok", {"shape": "(4,)"}, "a function"),
    ("Ok", {"shape": lambda inputs: inputs[0]}, "two arguments"),
    ("Ok", {"dtype": "float32"}, "`dtype` is one of"),
    ("Ok", {"in_keys": ["observation"]}, "for module kinds"),
    ("Ok", {"input_dim": 1}, "negative dim"),
])
def test_bad_registrations_are_refused_clearly(name: str, options: dict, words: str) -> None:
    options = {"cls": Gated, "params": GATED_PARAMS, "shape": gated_rule, **options}
    cls = options.pop("cls")
    with pytest.raises(KindRegistrationError) as caught:
        register_kind(name, cls, **options)
    assert words in str(caught.value), str(caught.value)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, rldsl.RldslError)
    assert set(REGISTERED) == set()


def test_bad_module_registrations_are_refused_clearly() -> None:
    with pytest.raises(KindRegistrationError, match="`in_keys` lists key names"):
        register_summed(in_keys=["agents.observation"])
    with pytest.raises(KindRegistrationError, match="`role` is"):
        register_summed(role="critic")
    keyword_only = type("KeywordOnly", (TensorDictModuleBase,), {"__init__": lambda self, in_keys, out_keys, *, extra:
                                                                 None})
    with pytest.raises(KindRegistrationError, match="needs `extra`"):
        register_kind("KeywordOnly", keyword_only, family="module", shape=gated_rule, in_keys=["a"], out_keys=["b"])
    with pytest.raises(KindRegistrationError, match="`in_keys`, `out_keys` and `role` are for module kinds"):
        register_gated(role="actor")


def test_a_name_is_registered_once_unless_replaced() -> None:
    first = register_gated()
    with pytest.raises(KindRegistrationError, match="registered already"):
        register_gated()
    second = register_gated(replace=True)
    assert lookup("Gated") is second is not first
    with pytest.raises(KindRegistrationError, match="one of rldsl's kinds"):
        register_kind("MLP", Gated, params=GATED_PARAMS, shape=gated_rule, replace=True)
    with pytest.raises(KindRegistrationError, match="one of rldsl's kinds"):
        unregister_kind("MLP")
    assert unregister_kind("Gated") is second
    with pytest.raises(KindRegistrationError, match="was not registered"):
        unregister_kind("Gated")
    assert lookup("MLP") is not None and "Gated" not in BY_NAME


def test_registering_imports_no_torch_of_its_own() -> None:
    script = ("import sys, rldsl\n"
              "try:\n    rldsl.register_kind('Net', object, shape=lambda inputs, args: ())\n"
              "except rldsl.registry.KindRegistrationError as error:\n    assert 'torch.nn.Module' in str(error)\n"
              "assert 'torch' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr


def test_kind_module_names_are_module_names() -> None:
    with pytest.raises(ValueError, match="dotted Python module names"):
        rldsl.check(HEAD, kind_modules=["./mykinds.py"])
    with pytest.raises(ValueError, match="as a list of names"):
        rldsl.check(HEAD, kind_modules="mykinds")


# --- the command line and the opt-in import ----------------------------------------------------------------------

MYKINDS = """\
import os
import torch
import rldsl
from rldsl.registry import ArgType, Meaning, Param

open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "IMPORTED-" + __name__), "w").close()


class Doubler(torch.nn.Module):
    \"\"\"Twice a linear map.\"\"\"

    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = torch.nn.Linear(in_features, out_features)

    def forward(self, x):
        return 2 * self.linear(x)


rldsl.register_kind("Doubler", Doubler, params=[
    Param("in_features", ArgType.INT, None, "input size", meaning=Meaning.INPUT_SIZE),
    Param("out_features", ArgType.INT, doc="output size")],
    shape=lambda inputs, args: (*inputs[0][:-1], args["out_features"]))
"""

MODEL = "key observation : f32[3]\nactor a = Actor(Doubler(out_features=2))\n"


def _env(folder: Path) -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]))


CLI = """\
import contextlib, io, sys
import rldsl
from rldsl.cli import main


def run(*arguments):
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()  # `graph` writes bytes
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(arguments))
    out.flush()
    return status, out.buffer.getvalue().decode(), err.getvalue()


status, out, _ = run("check", "m.rlm")
assert status == 1 and "E0204" in out and "--import-kinds" in out, out
assert "mykinds" not in sys.modules
status, _, err = run("check", "--import-kinds", "no_such_module", "m.rlm")
assert status == 2 and "cannot import kind module `no_such_module` (--import-kinds)" in err, err
status, _, err = run("check", "--import-kinds", "./mykinds.py", "m.rlm")
assert status == 2 and "dotted Python module names" in err and "mykinds" not in sys.modules, err
assert run("check", "--import-kinds", "mykinds", "m.rlm")[0] == 0 and "mykinds" in sys.modules
assert run("graph", "--import-kinds", "mykinds", "m.rlm")[0] == 0
status, out, err = run("compile", "--import-kinds", "mykinds", "m.rlm", "-o", "m.rlmz")
assert status == 0 and "Doubler" in out, err
print("ok")
"""

LOAD = """\
import contextlib, io, sys
import rldsl
from rldsl.cli import main
from rldsl.compiler import CompileError
from rldsl.compiler.artifact import ArtifactError

with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    assert main(["inspect", "m.rlmz"]) == 2  # its source names a kind nobody registered
try:
    rldsl.load("m.rlmz")
    raise AssertionError("loaded without the kind")
except (ArtifactError, CompileError) as error:
    assert "Doubler" in str(error)
text = open("m.rlm").read()
assert not rldsl.check(text).ok and "mykinds" not in sys.modules
report = rldsl.check(text, kind_modules=["mykinds"])
assert report.ok and report.types["action"] == "f32[2]", report.render()
assert type(rldsl.compile(text, kind_modules=["mykinds"])["a"].module).__name__ == "Doubler"
assert type(rldsl.load("m.rlmz", kind_modules=["mykinds"])["a"].module).__name__ == "Doubler"
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["inspect", "--import-kinds", "mykinds", "m.rlmz"]) == 0
print("ok")
"""


def _python(folder: Path, script: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *arguments], cwd=folder, env=_env(folder),
                          capture_output=True, text=True, timeout=600)


def test_the_cli_sees_registered_kinds_only_with_import_kinds_and_so_do_load_and_check(tmp_path: Path) -> None:
    (tmp_path / "mykinds.py").write_text(MYKINDS)
    (tmp_path / "m.rlm").write_text(MODEL)
    done = _python(tmp_path, CLI)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    (tmp_path / "IMPORTED-mykinds").unlink()
    done = _python(tmp_path, LOAD)  # a fresh process: nothing registered until asked
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# --- a model never imports a kind --------------------------------------------------------------------------------

PLANT = """\
import os
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "IMPORTED-" + __name__), "w").close()
import torch
class Net(torch.nn.Module):
    def forward(self, x):
        return x
"""

HOSTILE_KINDS = ["evilmod.Net", "evilmod.sub.Net", "evilmod", "Net", "venv.__main__.Net", "torch.nn.Linear",
                 "mykinds.Doubler", "sub.Net"]

PROBE = """\
import contextlib, io, json, sys
import rldsl
from rldsl.build import Model, ref
from rldsl.cli import main
from rldsl.compiler import CompileError

names = json.loads(sys.argv[1])
quiet = contextlib.redirect_stdout(io.StringIO())
for n, name in enumerate(names):
    for text in (f"key observation : f32[3]\\nmodule m = {name}(out_features=2) : observation -> h\\n",
                 f"key observation : f32[3]\\nactor a = Actor({name}(4))\\n",
                 f"key observation : f32[3]\\nactor a = Actor(MLP(out_features=2, activation_class={name}))\\n",
                 f"key observation : f32[3]\\nmodule m = MLP(out_features=2) >> {name} : observation -> h\\n"):
        with open(f"m{n}.rlm", "w") as f:
            f.write(text)
        assert not rldsl.check(text).ok, text
        assert not rldsl.check(f"m{n}.rlm", kind_modules=["mykinds"]).ok, text
        with quiet, contextlib.redirect_stderr(io.StringIO()):
            assert main(["check", f"m{n}.rlm"]) == 1
            assert main(["check", "--import-kinds", "mykinds", f"m{n}.rlm"]) == 1
            assert main(["graph", f"m{n}.rlm"]) == 1
            assert main(["compile", f"m{n}.rlm"]) == 1
        try:
            rldsl.compile(text)
            raise AssertionError("compiled")
        except CompileError:
            pass
    m = Model(f"b{n}")
    m.key("observation", "f32[3]")
    m.module("m", ref(name)(out_features=2), reads=["observation"], writes=["h"])
    assert not m.check().ok
print("probed", len(names))
"""


def test_a_model_naming_an_unregistered_kind_or_a_dotted_path_imports_nothing(tmp_path: Path) -> None:
    (tmp_path / "evilmod").mkdir()
    (tmp_path / "evilmod" / "__init__.py").write_text(PLANT)
    (tmp_path / "evilmod" / "sub.py").write_text(PLANT)
    (tmp_path / "sub.py").write_text(PLANT)
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "__main__.py").write_text(PLANT)
    (tmp_path / "mykinds.py").write_text(MYKINDS.replace('"Doubler", Doubler', '"Other", Doubler'))
    done = _python(tmp_path, PROBE, json.dumps(HOSTILE_KINDS))
    assert done.returncode == 0, done.stderr
    assert "probed" in done.stdout
    imported = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("IMPORTED"))
    assert imported == ["IMPORTED-mykinds"]  # the module named by --import-kinds / kind_modules, and nothing else

"""Utils (mappings, softplus helpers, errors, create_on_device) and import hygiene."""

from __future__ import annotations

import doctest
import math
import subprocess
import sys
from pathlib import Path

import pytest
import tensordict.nn
import torch
from torch import nn

import rldsl.modules
from rldsl.modules import biased_softplus, inv_softplus, mappings
from rldsl.modules.utils import ArgumentError, LazyLayerError, create_on_device


def test_reexports_are_tensordicts_functions():
    assert mappings is tensordict.nn.mappings
    assert inv_softplus is tensordict.nn.inv_softplus
    assert biased_softplus is tensordict.nn.biased_softplus


def test_mappings_table():
    x = torch.tensor([-2.0, 0.0, 3.0])
    assert torch.allclose(mappings("softplus")(x), nn.functional.softplus(x))
    assert torch.allclose(mappings("exp")(x), x.exp())
    assert torch.equal(mappings("relu")(x), x.relu())
    assert torch.equal(mappings("none")(x), x)
    assert torch.allclose(mappings("expln")(x), torch.tensor([math.exp(-2.0), 1.0, math.log1p(3.0) + 1]))
    assert torch.allclose(mappings("biased_softplus")(torch.zeros(1)), torch.ones(1))
    assert torch.allclose(mappings("biased_softplus_2.0")(torch.zeros(1)), torch.full((1,), 2.0))
    f = mappings("biased_softplus_2.0_0.5")
    assert torch.allclose(f(torch.zeros(1)), torch.full((1,), 2.0))
    assert f(torch.full((1,), -1e4)).item() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mappings("biased_softplus_1_2_3")
    with pytest.raises(NotImplementedError):
        mappings("softmax")


def test_biased_softplus_defaults():
    f = biased_softplus(3.0)
    assert f.min_val == 0.01
    assert f(torch.zeros(2)).tolist() == pytest.approx([3.0, 3.0])
    assert f(torch.full((1,), -1e4)).item() == pytest.approx(0.01)


def test_inv_softplus_float_and_tensor():
    value = inv_softplus(1.0)
    assert isinstance(value, float) and value == pytest.approx(math.log(math.expm1(1.0)))
    x = torch.tensor([0.5, 2.0])
    assert torch.allclose(nn.functional.softplus(inv_softplus(x)), x)
    assert inv_softplus(torch.tensor([0.0])).item() == pytest.approx(math.log(1e-6))


def test_create_on_device():
    assert create_on_device(nn.Linear, "meta", 2, 3).weight.is_meta  # takes device=
    assert create_on_device(nn.Tanh, "meta").__class__ is nn.Tanh  # moved with .to()
    assert create_on_device(lambda: torch.relu, "meta") is torch.relu  # plain result as is
    assert not create_on_device(nn.Linear, None, 2, 3).weight.is_meta


def test_error_classes():
    err = ArgumentError("bad")
    assert isinstance(err, ValueError) and isinstance(err, RuntimeError)
    lazy = LazyLayerError("no lazy variant")
    assert isinstance(lazy, ValueError) and isinstance(lazy, KeyError)
    assert str(lazy) == "no lazy variant"


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_import_rldsl_does_not_import_torch():
    assert _run("import sys, rldsl; print('torch' in sys.modules)") == "False"


def test_import_modules_keeps_torch_distribution_validation_default():
    # in a fresh process: torch.compile elsewhere in the test session switches torch's default off
    assert _run("import rldsl.modules, torch.distributions as D; print(D.Distribution._validate_args)") == "True"
    sources = Path(rldsl.modules.__file__).parent.rglob("*.py")
    assert not any("set_default_validate_args" in path.read_text() for path in sources)


def test_public_names():
    assert rldsl.modules.__all__ == sorted(rldsl.modules.__all__, key=str)
    for name in rldsl.modules.__all__:
        assert getattr(rldsl.modules, name) is not None


@pytest.mark.parametrize(
    "module_name",
    [
        "rldsl.modules.utils",
        "rldsl.modules.models",
        "rldsl.modules.distributions.continuous",
        "rldsl.modules.distributions.discrete",
        "rldsl.modules.distributions.truncated_normal",
    ],
)
def test_docstring_examples(module_name):
    module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
    torch.manual_seed(0)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0

"""One error family: every exception class rldsl defines derives from ``rldsl.RldslError`` and
keeps its builtin base; and the shared argument checks of :mod:`rldsl._checks` raise the types
and messages the call sites always raised."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import math
import pkgutil
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest

import rldsl
from rldsl import RldslError
from rldsl._checks import is_int, require_bool, require_int, require_non_negative, require_positive, type_name
from rldsl.modules import MLP, AdditiveGaussianModule, EGreedyModule
from rldsl.specs import Bounded, OneHot

#: Modules that do something when imported (``python -m rldsl`` runs the command line).
_NOT_IMPORTED = {"rldsl.__main__"}

#: The language server's modules need the optional extra ``rldsl[lsp]`` (pygls); they define no exception.
_NEEDS_PYGLS = "rldsl.lsp."


def _rldsl_modules() -> list[str]:
    """Every module of the rldsl package, by name (those of an optional extra that is not installed left out)."""
    names = ["rldsl"]
    pygls = importlib.util.find_spec("pygls") is not None
    for info in pkgutil.walk_packages(rldsl.__path__, prefix="rldsl."):
        if info.name not in _NOT_IMPORTED and (pygls or not info.name.startswith(_NEEDS_PYGLS)):
            names.append(info.name)
    return names


def _exception_classes() -> list[type[BaseException]]:
    """Every exception class defined at the top level of an rldsl module (warnings aside: they stay
    warnings), found by walking the package so that new ones are covered without a list."""
    found: dict[str, type[BaseException]] = {}
    for name in _rldsl_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, BaseException) and not issubclass(cls, Warning)
                    and cls.__module__.split(".")[0] == "rldsl"):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[key] for key in sorted(found)]


EXCEPTIONS = _exception_classes()

#: The builtin bases each class had before the family existed: callers written against torchrl
#: (or plain Python) catch these, so they must stay.
BUILTIN_BASES = {
    "rldsl.build.BuildError": (ValueError,),
    "rldsl.compiler.artifact.ArtifactError": (ValueError,),
    "rldsl.compiler.errors.CompileError": (ValueError,),
    "rldsl.compiler.guard.InputMismatch": (ValueError,),
    "rldsl.compiler.limits.ModelTooLarge": (ValueError,),
    "rldsl.files.UnsafeFile": (OSError,),
    "rldsl.lang.envs.EnvError": (Exception,),
    "rldsl.lang.values.NumberLimitError": (ArithmeticError,),
    "rldsl.modules.distributions.continuous.NoClosedFormError": (NotImplementedError, AttributeError),
    "rldsl.modules.tensordict_module.qvalue.ActionSpaceTypeError": (TypeError, RuntimeError),
    "rldsl.modules.utils.ArgumentError": (ValueError, RuntimeError),
    "rldsl.modules.utils.LazyLayerError": (ValueError, KeyError),
    "rldsl.specs._base.SpecKeyError": (KeyError, AttributeError),
    "rldsl.specs._base.SpecUndefinedError": (ValueError, NotImplementedError),
    "rldsl.specs._base.SpecValueError": (ValueError, AssertionError),
}


def test_the_walk_finds_the_known_classes() -> None:
    found = {f"{cls.__module__}.{cls.__qualname__}" for cls in EXCEPTIONS}
    assert set(BUILTIN_BASES) <= found


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_exception_class_is_an_rldsl_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, RldslError)


@pytest.mark.parametrize("path", sorted(BUILTIN_BASES))
def test_each_class_keeps_its_builtin_bases(path: str) -> None:
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    for base in BUILTIN_BASES[path]:
        assert issubclass(cls, base), f"{path} is no longer a {base.__name__}"


def test_catching_the_builtin_base_still_works() -> None:
    from rldsl.build import BuildError
    from rldsl.files import UnsafeFile

    with pytest.raises(ValueError):
        raise BuildError("a name that is not an identifier")
    error = UnsafeFile("it is a device, not a regular file")
    assert isinstance(error, OSError) and isinstance(error, RldslError)
    assert error.strerror == str(error) == "it is a device, not a regular file"


def test_the_root_is_a_plain_exception() -> None:
    assert RldslError.__bases__ == (Exception,)
    assert rldsl.RldslError is RldslError
    assert "RldslError" in rldsl.__all__ and "RldslError" in dir(rldsl)


def test_importing_rldsl_and_its_error_root_does_not_import_torch() -> None:
    script = (
        "import sys, rldsl\n"
        "rldsl.RldslError\n"
        "import rldsl.errors, rldsl._checks\n"
        "loaded = sorted(n for n in sys.modules if n == 'torch' or n.startswith('torch.'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["rldsl.errors", "rldsl._checks"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------------
# The argument checks


def test_is_int() -> None:
    assert is_int(3) and is_int(-1)
    assert not is_int(True) and not is_int(3.0) and not is_int("3") and not is_int(None)
    assert not is_int(np.int64(3)) and is_int(np.int64(3), integral=True)
    assert not is_int(np.bool_(True), integral=True) and not is_int(False, integral=True)


def test_require_bool() -> None:
    assert require_bool(True, "x") is True and require_bool(False, "x") is False
    with pytest.raises(TypeError) as info:
        require_bool(1, "TanhModule `clamp`")
    assert str(info.value) == "TanhModule `clamp` must be True or False, got 1"
    with pytest.raises(TypeError) as info:
        require_bool(np.bool_(True), "tanh_loc", suffix=".")
    assert str(info.value) == f"tanh_loc must be True or False, got {np.bool_(True)!r}."
    with pytest.raises(TypeError) as info:
        require_bool("yes", "`categorical_action_encoding`", expected="a bool")
    assert str(info.value) == "`categorical_action_encoding` must be a bool, got 'yes'"


def test_require_int() -> None:
    assert require_int(4, "n") == 4
    assert require_int(None, "vmap_dim", optional=True) is None
    with pytest.raises(TypeError) as info:
        require_int(None, "EGreedyModule `annealing_num_steps`")
    assert str(info.value) == "EGreedyModule `annealing_num_steps` must be an int, got None"
    with pytest.raises(TypeError) as info:
        require_int(True, "padding_value", expected="an int or None", optional=True, suffix=".")
    assert str(info.value) == "padding_value must be an int or None, got True."
    with pytest.raises(TypeError) as info:
        require_int(1.5, "event_dims", show=type_name, suffix=".")
    assert str(info.value) == "event_dims must be an int, got float."


def test_require_int_with_a_minimum_raises_one_message_for_both_refusals() -> None:
    check = dict(expected="a positive int", integral=True, minimum=1, error=ValueError, suffix="; e.g. n=1000")
    assert require_int(np.int64(2), "n", **check) == 2
    for bad, shown in ((0, "0"), (2.0, "2.0"), (np.int64(0), repr(np.int64(0)))):
        with pytest.raises(ValueError) as info:
            require_int(bad, "n", **check)
        assert type(info.value) is ValueError
        assert str(info.value) == f"n must be a positive int, got {shown}; e.g. n=1000"


def test_require_non_negative() -> None:
    assert require_non_negative(0, "x") == 0 and require_non_negative(2.5, "x") == 2.5
    assert math.isnan(require_non_negative(math.nan, "atol"))  # NaN is left to the finiteness checks
    with pytest.raises(ValueError) as info:
        require_non_negative(-1e-3, "atol", suffix="; pass e.g. atol=1e-6.")
    assert str(info.value) == "atol must be >= 0, got -0.001; pass e.g. atol=1e-6."


def test_require_positive() -> None:
    assert require_positive(1, "x") == 1 and require_positive(0.5, "x") == 0.5
    with pytest.raises(ValueError) as info:
        require_positive(0.0, "OrnsteinUhlenbeckProcessModule `dt`")
    assert str(info.value) == "OrnsteinUhlenbeckProcessModule `dt` must be > 0, got 0.0"
    with pytest.raises(ValueError) as info:
        require_positive(math.nan, "upscale", suffix="; the default is upscale=5.0.")
    assert str(info.value) == "upscale must be > 0, got nan; the default is upscale=5.0."
    with pytest.raises(ValueError) as info:
        require_positive(-2, "`n`", expected=">= 1 (the number of categories)")
    assert str(info.value) == "`n` must be >= 1 (the number of categories), got -2"


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: OneHot(0), ValueError, "`n` must be >= 1 (the number of categories), got 0"),
    (lambda: OneHot(2.0), TypeError, "`n` must be a positive int, got 2.0"),
    (lambda: MLP(out_features=0), ValueError, "out_features must be made of positive ints, got 0."),
    (lambda: MLP(out_features=2, depth=-1), ValueError, "depth must be an int >= 0 or None, got -1."),
    (lambda: EGreedyModule(OneHot(2), annealing_num_steps=-1), ValueError,
     "EGreedyModule `annealing_num_steps` must be >= 0, got -1"),
    (lambda: AdditiveGaussianModule(Bounded(-1.0, 1.0, (1,)), safe=1), TypeError,
     "AdditiveGaussianModule `safe` must be True or False, got 1"),
], ids=["onehot-0", "onehot-float", "mlp-out", "mlp-depth", "egreedy-steps", "gaussian-safe"])
def test_the_call_sites_keep_their_messages(call: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message

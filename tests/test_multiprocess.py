"""Compiled graphs where users outgrow one process (issue 13, item 4): torchrl's distributed collectors
and trainers pickle policies to worker processes, push weights to them as a ``state_dict`` or as a
params TensorDict (``TensorDict.from_module(policy)`` ... ``params.to_module(policy)``, the weight
updaters' way), and train with ``torch.nn.parallel.DistributedDataParallel``. A compiled graph must
survive all three: the worker's copy computes what the parent's computes, and DDP keeps ranks in step.

Every worker is a fresh interpreter (a ``python -c`` subprocess, or ``torch.multiprocessing`` with the
``spawn`` start method), and every wait has a deadline so a hang fails the test instead of blocking CI.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from tensordict import TensorDict

import rldsl
from rldsl.modules import ExplorationType, set_exploration_type

ROOT = Path(__file__).resolve().parents[1]
SAC = ROOT / "examples" / "pendulum_sac.rlm"
DQN = ROOT / "examples" / "cartpole_dqn.rlm"
DEADLINE_S = 90.0  # generous: two cold torch imports on a loaded 2-core CI machine; a hang still fails

# The worker: reads pickled jobs on stdin, runs each, writes the pickled results on stdout. A job is
# (module, weights, how, inputs): the module arrives pickled; `how` says how the parent's weights are
# put into it ("none": keep the pickled weights, "state_dict": load_state_dict, "to_module": the params
# TensorDict of TensorDict.from_module, applied with to_module).
WORKER = """
import pickle, sys, torch
from rldsl.modules import ExplorationType, set_exploration_type
jobs = pickle.load(sys.stdin.buffer)
results = []
for module, weights, how, inputs in jobs:
    if how == "state_dict":
        module.load_state_dict(weights)
    elif how == "to_module":
        weights.to_module(module)
    torch.manual_seed(0)
    with torch.no_grad(), set_exploration_type(ExplorationType.DETERMINISTIC):
        results.append(module(inputs.clone()))
pickle.dump(results, sys.stdout.buffer)
"""


def _run_in_worker(jobs: list[tuple]) -> list[TensorDict]:
    """Run ``jobs`` in a fresh interpreter and return its outputs (see WORKER)."""
    done = subprocess.run([sys.executable, "-c", WORKER], input=pickle.dumps(jobs), capture_output=True,
                          timeout=DEADLINE_S, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode()
    return pickle.loads(done.stdout)


def _local(module: torch.nn.Module, inputs: TensorDict) -> TensorDict:
    torch.manual_seed(0)
    with torch.no_grad(), set_exploration_type(ExplorationType.DETERMINISTIC):
        return module(inputs.clone())


def _assert_same(got: TensorDict, expected: TensorDict, what: str) -> None:
    assert set(got.keys(True, True)) == set(expected.keys(True, True)), what
    for key in expected.keys(True, True):
        assert torch.equal(got[key], expected[key]), (what, key)


def test_compiled_graphs_pickled_to_a_worker_compute_the_same_outputs() -> None:
    """Every module of both examples, sent pickled: the worker's copy gives the parent's outputs."""
    jobs, expected = [], []
    for path in (SAC, DQN):
        program = rldsl.compile(path, seed=5)
        for name in program:
            inputs = program.spec_random_input(name, (4,))
            jobs.append((program[name], None, "none", inputs))
            expected.append((f"{path.stem}.{name}", _local(program[name], inputs)))
    for got, (what, want) in zip(_run_in_worker(jobs), expected, strict=True):
        _assert_same(got, want, what)


def test_weights_pushed_to_a_worker_with_state_dict_or_to_module_are_the_ones_used() -> None:
    """The worker holds a graph with other weights (another seed); the parent's weights, sent as a
    ``state_dict`` or as ``TensorDict.from_module(module)`` and applied with ``to_module``, make it
    compute what the parent computes (torchrl's weight updaters send the latter)."""
    jobs, expected = [], []
    for path in (SAC, DQN):
        trained, stale = rldsl.compile(path, seed=1), rldsl.compile(path, seed=2)
        for name in trained:
            inputs = trained.spec_random_input(name, (3,))
            want = _local(trained[name], inputs)
            if any(p.numel() for p in trained[name].parameters()):
                stale_out = _local(stale[name], inputs)
                assert any(not torch.equal(stale_out[k], want[k]) for k in trained.writes(name)), name
            jobs.append((stale[name], trained[name].state_dict(), "state_dict", inputs))
            jobs.append((stale[name], TensorDict.from_module(trained[name]).data.clone(), "to_module", inputs))
            expected += [(f"{path.stem}.{name} state_dict", want), (f"{path.stem}.{name} to_module", want)]
    for got, (what, want) in zip(_run_in_worker(jobs), expected, strict=True):
        _assert_same(got, want, what)


def _serve(module: torch.nn.Module, requests: mp.Queue, replies: mp.Queue) -> None:
    """A worker holding ``module`` (received through torch.multiprocessing): answers each input it is
    sent with the module's output, until it is sent ``None``."""
    while (inputs := requests.get(timeout=DEADLINE_S)) is not None:
        replies.put(_local(module, inputs))


def test_weights_updated_in_place_reach_a_worker_through_shared_memory() -> None:
    """torch.multiprocessing moves the tensors of what it sends into shared memory, so a worker spawned
    with a compiled policy reads the parent's weights: an in-place ``update_`` of the parent's
    ``TensorDict.from_module(policy)`` (torchrl's collectors keep policy weights this way) is what
    the worker's next call uses, with no further message."""
    program, newer = rldsl.compile(DQN, seed=1), rldsl.compile(DQN, seed=2)
    policy = program["q"]
    inputs = program.spec_random_input("q", (6,))
    context = mp.get_context("spawn")
    requests, replies = context.Queue(), context.Queue()
    worker = context.Process(target=_serve, args=(policy, requests, replies), daemon=True)
    worker.start()
    try:
        requests.put(inputs)
        _assert_same(replies.get(timeout=DEADLINE_S), _local(policy, inputs), "before the update")
        TensorDict.from_module(policy).data.update_(TensorDict.from_module(newer["q"]).data)
        expected = _local(newer["q"], inputs)
        assert not torch.equal(expected["action_value"], _local(rldsl.compile(DQN, seed=1)["q"], inputs)["action_value"])
        requests.put(inputs)
        _assert_same(replies.get(timeout=DEADLINE_S), expected, "after the update")
        requests.put(None)
        worker.join(timeout=DEADLINE_S)
        assert worker.exitcode == 0
    finally:
        if worker.is_alive():
            worker.kill()


# --- DistributedDataParallel over gloo, 2 ranks on CPU -------------------------------------------------

WORLD = 2
STEPS = 3
BATCH = 4  # per rank


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_batch(program: rldsl.compiler.Program, name: str, rank: int) -> TensorDict:
    """Each rank's own data, the same on every call (so the parent can rebuild it)."""
    torch.manual_seed(100 + rank)
    return program.spec_random_input(name, (BATCH,))


def _critic_loss(critic: torch.nn.Module, batch: TensorDict) -> torch.Tensor:
    return critic(batch.clone())["state_action_value"].pow(2).mean()


def _policy_loss(policy: torch.nn.Module, batch: TensorDict) -> torch.Tensor:
    out = policy(batch.clone())
    return out["action"].pow(2).mean() + out["action_log_prob"].mean()


def _q_loss(explore: torch.nn.Module, batch: TensorDict) -> torch.Tensor:
    return explore(batch.clone())["action_value"].pow(2).mean()


# What each rank trains: (example, declaration, loss). The DQN one is the epsilon-greedy wrapper, whose
# annealed epsilon is a buffer (DDP broadcasts rank 0's buffers at every forward).
TRAINED = {"qvalue": (SAC, "qvalue", _critic_loss), "policy": (SAC, "policy", _policy_loss),
           "q_explore": (DQN, "q_explore", _q_loss)}


def _ddp_worker(rank: int, port: int, pickled: bytes, out_dir: str) -> None:
    """One rank: unpickle its own copy of the programs, wrap the trained modules in DDP, take a few SGD
    steps. Rank 1 starts from scrambled weights: DDP's construction must broadcast rank 0's."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    programs = pickle.loads(pickled)
    modules = {name: programs[path][decl] for name, (path, decl, _) in TRAINED.items()}
    if rank == 1:
        with torch.no_grad():
            for module in modules.values():
                for parameter in module.parameters():
                    parameter.add_(1.0)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=60))
    try:
        wrapped = {name: DistributedDataParallel(module) for name, module in modules.items()}
        optim = torch.optim.SGD([p for module in wrapped.values() for p in module.parameters()], lr=0.1)
        torch.manual_seed(rank)  # each rank samples its own actions
        for _ in range(STEPS):
            optim.zero_grad()
            loss = sum(lose(wrapped[name], _rank_batch(programs[path], decl, rank))
                       for name, (path, decl, lose) in TRAINED.items())
            loss.backward()
            optim.step()
        torch.save({name: module.state_dict() for name, module in modules.items()}, f"{out_dir}/rank{rank}.pt")
        dist.barrier()  # both ranks have saved
    except BaseException:
        dist.destroy_process_group()
        raise
    # Leave without running destructors: freeing the DDP reducer frees the gloo process group, whose
    # destructor joins gloo's worker threads while holding the GIL, and a worker dropping a Python object
    # waits for the GIL (a deadlock in torch 2.13, seen with gdb in about one run of three: both ranks had
    # saved, one stuck in ~ProcessGroupGloo <- ~Reducer).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _join(context: mp.ProcessContext) -> None:
    """Wait for every rank, failing (and killing them) past the deadline rather than hanging."""
    deadline = time.monotonic() + DEADLINE_S
    try:
        while not context.join(timeout=1.0):
            if time.monotonic() > deadline:
                pytest.fail(f"DDP ranks still running after {DEADLINE_S:.0f} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()


def launch_ddp(out_dir: str) -> None:
    """Compile the programs (seed 0, as the test does) and run the ranks, each saving its weights."""
    programs = {SAC: rldsl.compile(SAC, seed=0), DQN: rldsl.compile(DQN, seed=0)}
    # Plain pickle bytes, not the program itself: torch.multiprocessing would move its tensors into shared
    # memory, and both ranks (and this process) would then step one and the same set of weights.
    context = mp.start_processes(_ddp_worker, args=(_free_port(), pickle.dumps(programs), out_dir), nprocs=WORLD,
                                 join=False, start_method="spawn")
    _join(context)


#: Run in a fresh interpreter: start the DDP ranks (this file is imported by name, as the ranks import it).
LAUNCH = "import sys; sys.path.insert(0, 'tests'); import test_multiprocess; test_multiprocess.launch_ddp(sys.argv[1])"


def test_distributed_data_parallel_over_gloo_keeps_both_ranks_identical(tmp_path: Path) -> None:
    """DDP averages the gradients of both ranks, so after a few optimiser steps both ranks hold the same
    weights, the weights moved, and the critic (deterministic) equals one process trained by the same
    SGD on the mean of the two ranks' losses."""
    programs = {SAC: rldsl.compile(SAC, seed=0), DQN: rldsl.compile(DQN, seed=0)}
    initial = {name: {k: v.clone() for k, v in programs[path][decl].state_dict().items()}
               for name, (path, decl, _) in TRAINED.items()}
    # The ranks are started from a fresh interpreter, which imports this file by name (as the spawned
    # ranks do) whatever way pytest imported it, and keeps gloo's threads out of pytest's process.
    done = subprocess.run([sys.executable, "-c", LAUNCH, str(tmp_path)], capture_output=True,
                          timeout=DEADLINE_S + 30, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode()[-4000:]
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD)]
    for name in TRAINED:
        for key, value in ranks[0][name].items():
            assert torch.equal(value, ranks[1][name][key]), (name, key)
        assert any(not torch.equal(v, initial[name][k]) for k, v in ranks[0][name].items()), name

    program = programs[SAC]
    critic = program["qvalue"]  # this process's copy still holds the initial weights
    optim = torch.optim.SGD(critic.parameters(), lr=0.1)
    for _ in range(STEPS):
        optim.zero_grad()
        loss = sum(_critic_loss(critic, _rank_batch(program, "qvalue", rank)) for rank in range(WORLD)) / WORLD
        loss.backward()
        optim.step()
    for key, value in critic.state_dict().items():
        torch.testing.assert_close(ranks[0]["qvalue"][key], value, rtol=1e-5, atol=1e-6)

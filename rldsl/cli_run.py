"""The command line of ``rldsl run``: its arguments, parsed without importing the rollout.

``rldsl``'s parser registers every command at start-up, and ``rldsl check`` must start fast: the
rollout (:mod:`rldsl.run`, gymnasium, torch) is imported only when ``rldsl run`` runs.
"""

from __future__ import annotations

import argparse

from rldsl.cli_reading import add_reading_arguments

__all__ = ["EXPLORATIONS", "MAX_COUNT", "VIDEO_EXTRA", "add_run_parser"]

#: ``--exploration`` choices.
EXPLORATIONS = ("deterministic", "random")
#: What ``pip install`` adds for ``--video`` and ``--render``.
VIDEO_EXTRA = "pip install 'rldsl[video]'"
#: At most this many episodes or steps (a typo such as `--steps 1e9` is refused, not run for days).
MAX_COUNT = 10**9


def add_run_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``rldsl run`` on the subparsers of ``rldsl``'s parser."""
    run = commands.add_parser(
        "run",
        help="roll a model's policy out in a gymnasium env and print its returns",
        description="Compile the policy of a .rlm model (or load a trained .rlmz artifact), check its keys "
                    "against the env's spaces, roll it out in gymnasium and print the return of each episode "
                    "and a summary. Exit status: 0 rolled out, 1 check errors or a policy that does not fit the "
                    "env, 2 usage error, unreadable file or env, missing optional dependency.",
    )
    run.add_argument("file", metavar="FILE", help="a .rlm model, or a .rlmz artifact written by rldsl.save")
    run.add_argument("--env", required=True, metavar="ID", help="the gymnasium env id, such as Pendulum-v1")
    run.add_argument("--policy", metavar="NAME",
                     help="the declaration to roll out (default: the model's one `actor` declaration)")
    count = run.add_mutually_exclusive_group()
    count.add_argument("--episodes", type=_count, metavar="N", help="roll out N whole episodes (default: 1)")
    count.add_argument("--steps", type=_count, metavar="N", help="roll out N steps in all, over as many episodes")
    run.add_argument("--max-episode-steps", type=_count, metavar="N",
                     help="end an episode after N steps (default: the env's registered limit)")
    run.add_argument("--seed", type=_seed, default=0,
                     help="seeds the env, torch and the weights of a .rlm model (default: 0)")
    run.add_argument("--exploration", choices=EXPLORATIONS, default="deterministic",
                     help="deterministic actions (the default) or random ones: sampled, with exploration noise")
    run.add_argument("--render", choices=("rgb_array", "human"),
                     help="rgb_array: draw frames for --video; human: show the episodes in a window")
    run.add_argument("--video", metavar="OUT.mp4", help=f"record the episodes to a video file ({VIDEO_EXTRA})")
    run.add_argument("--device", help="cpu, cuda or cuda:N (default: cpu, or the device an artifact was saved from)")
    run.add_argument("--dtype", choices=("f32", "f64"), default="f32",
                     help="the float dtype a .rlm model is compiled in (default: f32)")
    run.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                     help="the progress bar on standard error (default: auto, on a terminal only)")
    add_reading_arguments(run)
    run.set_defaults(handler=_run)


def _count(text: str) -> int:
    """``--episodes`` / ``--steps``: a positive whole number (``1_000`` too)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if not 0 < value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_COUNT:,}, got {value}")
    return value


def _seed(text: str) -> int:
    """``--seed``: a whole number from 0 to 2**63 - 1 (gymnasium takes no negative seed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to 2**63 - 1, got {value}")
    return value


def _run(args: argparse.Namespace) -> int:
    """``rldsl run``: the rollout, imported now."""
    from rldsl.run import run_command

    return run_command(args)

"""The fuzz suite: grammar-aware mutation of the example models, run through every entry point.

* :mod:`.mutate` turns the example `.rlm` files into hostile variants (token edits, extreme
  numbers, unicode, control characters, deep nesting, splices), driven by a seeded
  ``random.Random`` or by hypothesis.
* :mod:`.harness` runs one input through check, render, fmt, graph, compile (``device="meta"``)
  and one forward pass, classifies the outcome (ok, diagnostic, crash, hang, over-memory) and
  runs cases in a worker process under a memory cap and a time limit.
* :mod:`.campaign` fuzzes for a given time, minimises and stores the crashing inputs;
  ``python -m tests.fuzz --minutes 30 --seed 1 --out /tmp/fuzz`` runs it from the command line.
* ``regressions/`` holds every crashing input found so far; ``test_fuzz.py`` checks them all.
"""

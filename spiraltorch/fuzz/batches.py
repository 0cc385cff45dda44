"""The batch driver shared by the fuzzer's modes: hypothesis runs `examples` programs in batches, each batch with its
own seed, shrinking a failing program before it is reported."""

from __future__ import annotations

import time
from collections.abc import Callable


def run_batches(examples: int, strategy, check: Callable, *, seed: int, batch: int, stop_on_failure: bool,
                failures: list, log: Callable, progress: Callable[[], str]) -> None:
    """Call check(program) on generated programs; a raised error is a failure (appended to `failures`, the
    message holding the shrunk reproducer). `check` records what it learnt only for programs that pass: hypothesis
    re-runs a failing program while shrinking, and those runs must not count."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    done = 0
    batch_no = 0
    t0 = time.time()
    while done < examples:
        n = min(batch, examples - done)
        state = {"failed": False}

        def one_check(program, state=state):
            try:
                record = check(program)
            except BaseException:
                state["failed"] = True
                raise
            if not state["failed"]:
                record()

        @hseed(seed * 1_000_003 + batch_no)
        @settings(max_examples=n, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
        @given(strategy)
        def one(program):
            one_check(program)

        try:
            one()
        except Exception as err:  # a failure, shrunk by hypothesis; the message holds the reproducer
            failures.append(str(err))
            log(f"FAILURE in batch {batch_no}:\n{err}\n")
            if stop_on_failure:
                break
        done += n
        batch_no += 1
        log(f"[{time.time() - t0:.0f}s] {done}/{examples} programs, {progress()}")

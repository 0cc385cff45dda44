"""Long runs: python -m spiraltorch.fuzz --examples 10000 --target cpu (add --grad for gradient mode)."""

from __future__ import annotations

import argparse
import os
from collections import Counter
from dataclasses import dataclass, field

from spiraltorch.fuzz.batches import run_batches
from spiraltorch.fuzz.builders import ALL_OPS
from spiraltorch.fuzz.check import check_program
from spiraltorch.fuzz.params import KNOWN_BUGS, known_grad_bugs
from spiraltorch.fuzz.strategy import programs
from spiraltorch.fuzz.support import op_support, unsupported

# ---------------------------------------------------------------------------------------------------
# Long runs: python -m spiraltorch.fuzz --examples 10000 --target cpu
# ---------------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    clean: int = 0
    failures: list = field(default_factory=list)
    ops: Counter = field(default_factory=Counter)


def run(examples: int, target: str = "cpu", ops=None, max_ops: int = 12, seed: int = 0, batch: int = 500,
        stop_on_failure: bool = False, log=print) -> RunResult:
    """Check `examples` random programs in batches (each with its own seed, shrinking failures)."""
    result = RunResult()

    def check(program):
        check_program(program, target)

        def record():
            result.clean += 1
            result.ops.update(program.ops())

        return record

    run_batches(examples, programs(target=target, ops=ops, max_ops=max_ops), check, seed=seed, batch=batch,
                stop_on_failure=stop_on_failure, failures=result.failures, log=log,
                progress=lambda: f"{result.clean} clean, {len(result.failures)} failures")
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m spiraltorch.fuzz", description=__doc__.split("\n")[0])
    p.add_argument("--examples", type=int, default=1000)
    p.add_argument("--target", default="cpu")
    p.add_argument("--ops", help="comma-separated op names (default: every op the target supports)")
    p.add_argument("--max-ops", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--stop-on-failure", action="store_true")
    p.add_argument("--list-ops", action="store_true", help="print which ops the target supports and exit")
    p.add_argument("--grad", action="store_true", help="gradient mode (spiraltorch/fuzz/grad.py): the derivatives "
                   "of a weighted sum of each program's float outputs, reverse and forward mode against finite "
                   "differences (float64, interpreter), and st.value_and_grad on the target against the interpreter")
    p.add_argument("--directions", type=int, default=None, help="gradient mode: random directions per program "
                   "(default 2)")
    p.add_argument("--parallel-min", type=int, help="set SPIRAL_PARALLEL_MIN (e.g. 1: split even tiny kernels "
                   "across threads, to fuzz the parallel paths)")
    args = p.parse_args(argv)
    if args.parallel_min is not None:
        os.environ["SPIRAL_PARALLEL_MIN"] = str(args.parallel_min)
    if args.list_ops:
        for op in ALL_OPS:
            why = op_support(args.target, op)
            bug = KNOWN_BUGS.get(args.target, {}).get(op)
            print(f"{op:16} {'excluded: ' + bug if bug else 'ok' if why is None else 'unsupported: ' + why}")
        return 0
    ops = args.ops.split(",") if args.ops else None
    if args.grad:
        from spiraltorch.fuzz.grad import DIRECTIONS, run_grad

        g = run_grad(args.examples, args.target, ops, args.max_ops, args.seed, args.batch, args.stop_on_failure,
                     args.directions or DIRECTIONS)
        print("\n" + g.summary(args.target))
        print("ops exercised:", ", ".join(f"{op} {n}" for op, n in g.ops.most_common()))
        bugs = known_grad_bugs(args.target)
        if bugs:
            print("left out (KNOWN_GRAD_BUGS):")
            for key, why in bugs.items():
                print(f"  {key}: {why[:150]}")
        return 1 if g.failures else 0
    res = run(args.examples, args.target, ops, args.max_ops, args.seed, args.batch, args.stop_on_failure)
    print(f"\n{res.clean} of {args.examples} programs ran clean on {args.target!r}; {len(res.failures)} failures")
    print("ops exercised:", ", ".join(f"{op} {n}" for op, n in res.ops.most_common()))
    gaps = unsupported(args.target)
    if gaps:
        print("unsupported by the target (probed):")
        for key, msg in gaps.items():
            print(f"  {key}: {msg.splitlines()[0][:150]}")
    return 1 if res.failures else 0



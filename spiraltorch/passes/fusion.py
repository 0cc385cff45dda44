"""`fuse`: group ops into `spiral.fused` regions, each of which the backend compiles to one kernel.

    stc ir model.py:f --arg ... -p autodiff,canonicalize,cse,dce,fuse --print-after fuse [--explain-fusion]

The dataflow graph of each function is a networkx DiGraph (ops are nodes, SSA uses are edges). Ops are visited in
program order; a groupable op joins the group(s) of its producers when the policy (passes/fusion_policy.py) agrees
and joining cannot create a cycle (a path group -> outside op -> group would make the fused op depend on itself).
A group that joins several producer groups merges them. Splat constants are cloned into the groups that read them.
Each group with at least two ops becomes a `spiral.fused` op whose results are the group's values used elsewhere;
the block is then re-ordered topologically (networkx) so every value is defined before its uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.traits import IsTerminator

from spiraltorch import knobs
from spiraltorch.ir import dtypes
from spiraltorch.ir.ops.fusion import FusedOp, YieldOp
from spiraltorch.passes.fusion_policy import FusionPolicy


@dataclass
class _Group:
    shape: tuple[int, ...]
    members: list[Operation] = field(default_factory=list)
    bits: int = 0  # bitset of member op indices
    producers: set[Operation] = field(default_factory=set)  # ops outside the group that feed it
    reduction: Operation | None = None  # a final reduction fed by the group (kind "reduction"); nothing joins after
    anchor: Operation | None = None  # a matmul whose elementwise epilogue the group is (kind "matmul")
    epilogue: set[Operation] = field(default_factory=set)  # ops on the reduction's result, after it


@dataclass(frozen=True)
class FusePass(ModulePass):
    name = "fuse"

    max_size: int = 64

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        policy = FusionPolicy(max_size=self.max_size)
        for f in [o for o in op.ops if isinstance(o, func.FuncOp) and not o.is_declaration]:
            if _worth_a_look(f.body.block, policy):
                Fuser(f.body.block, policy).run()


def _worth_a_look(block: Block, policy: FusionPolicy) -> bool:
    """False when nothing can fuse: fewer than two groupable ops and no loss with its gradient. Saves importing
    networkx (~120 ms on a first compile) for functions such as a lone softmax."""
    from spiraltorch.ir.ops import nn
    from spiraltorch.ir.ops import reduction as rd

    groupable = sum(1 for o in block.ops if policy.groupable(o))
    reductions = any(isinstance(o, (rd.SumOp, rd.MeanOp, rd.MaxOp, rd.MinOp)) for o in block.ops)
    return groupable >= 2 or (groupable and reductions) or any(isinstance(o, nn.CrossEntropyGradOp)
                                                              for o in block.ops)


class Fuser:
    def __init__(self, block: Block, policy: FusionPolicy):
        import networkx as nx  # imported on first use: ~120 ms

        self.block = block
        self.policy = policy
        self.ops = [o for o in block.ops if not o.has_trait(IsTerminator)]
        self.index = {o: i for i, o in enumerate(self.ops)}
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(self.ops)
        for o in self.ops:
            for v in o.operands:
                p = _producer(v)
                if p in self.index:
                    self.graph.add_edge(p, o)
        self.ancestors: dict[Operation, int] = {}
        self.group_of: dict[Operation, _Group] = {}
        self.log: list[str] = []

    # -- grouping -----------------------------------------------------------------------------------
    def run(self) -> list[str]:
        for o in self.ops:
            self.ancestors[o] = self._ancestor_bits(o)
        pairs = self._loss_pairs()
        paired = {o for pair in pairs for o in pair}
        for o in self.ops:
            if o not in paired:
                self._place(o)
        pairs = self._break_cycles(pairs)
        groups = {id(g): g for g in self.group_of.values()}.values()
        made = 0
        for g in sorted(groups, key=lambda g: self.index[g.members[0]]):
            decision = self.policy.worth_a_group(len(g.members))
            if decision:
                self._outline(g)
                made += 1
        for loss, grad in pairs:
            self._outline_ops([loss, grad], "cross_entropy")
            made += 1
        if made:
            self._reorder()
        if "fusion" in knobs.get("SPIRAL_LOG").split(","):
            import sys

            print("\n".join(self.log), file=sys.stderr)
        return self.log

    def _break_cycles(self, pairs: list) -> list:
        """Each join kept its own group acyclic, but two groups can still depend on each other (group A feeds an
        op outside that feeds group B, while B feeds A). Contract every group to one node; while the result has a
        cycle, dissolve the smallest group on it (its ops become single kernels again)."""
        while True:
            owner: dict[Operation, tuple] = {}
            sizes: dict[tuple, int] = {}
            for g in {id(g): g for g in self.group_of.values()}.values():
                if len(g.members) > 1:
                    for m in g.members:
                        owner[m] = ("group", id(g))
                    sizes[("group", id(g))] = len(g.members)
            for i, pair in enumerate(pairs):
                for m in pair:
                    owner[m] = ("pair", i)
                sizes[("pair", i)] = 2
            import networkx as nx

            quotient = nx.DiGraph()
            for u, v in self.graph.edges:
                a, b = owner.get(u, u), owner.get(v, v)
                if a != b:
                    quotient.add_edge(a, b)
            try:
                cycle = nx.find_cycle(quotient)
            except nx.NetworkXNoCycle:
                return pairs
            victim = min((n for edge in cycle for n in edge[:2] if n in sizes), key=sizes.__getitem__)
            if victim[0] == "pair":
                self.log.append(f"{_describe(pairs[victim[1]][0])}: not paired with its gradient: the two groups "
                                "would depend on each other")
                pairs = [p for i, p in enumerate(pairs) if i != victim[1]]
                continue
            members = [m for m, o in owner.items() if o == victim]
            self.log.append(f"group of {', '.join(_describe(m) for m in members)} dissolved: it and another group "
                            "would depend on each other (a cycle through ops outside both)")
            for m in members:
                self.group_of[m] = _Group(self.group_of[m].shape, [m], 1 << self.index[m])

    def _loss_pairs(self) -> list[tuple[Operation, Operation]]:
        """(cross_entropy, cross_entropy_grad) pairs on the same logits and labels, when the gradient's cotangent
        does not depend on the loss (then the pair would be a cycle)."""
        from spiraltorch.ir.ops import nn

        if not self.policy.pair_loss_with_gradient():
            return []
        pairs = []
        losses = [o for o in self.ops if isinstance(o, nn.CrossEntropyOp)]
        for grad in (o for o in self.ops if isinstance(o, nn.CrossEntropyGradOp)):
            for loss in losses:
                same = (loss.scores, loss.labels) == (grad.logits, grad.labels) and \
                    loss.props()["reduction"] == grad.props()["reduction"]
                g = _producer(grad.g)
                if same and not (g is not None and (g is loss or self.ancestors[g] >> self.index[loss] & 1)):
                    pairs.append((loss, grad))
                    losses.remove(loss)
                    self.log.append(f"{_describe(loss)} + {_describe(grad)}: one kernel: "
                                    f"{self.policy.pair_loss_with_gradient().reason}")
                    break
        return pairs

    def _ancestor_bits(self, o: Operation) -> int:
        bits = 0
        for p in self.graph.predecessors(o):
            bits |= self.ancestors[p] | (1 << self.index[p])
        return bits

    def _place(self, o: Operation) -> None:
        where = _describe(o)
        if self.policy.inlinable_constant(o):
            self.log.append(f"{where}: a constant: cloned into the groups that read it")
            return
        decision = self.policy.groupable(o)
        if not decision:
            if self.policy.starts_epilogue_group(o):
                g = _Group(dtypes.shape_of(o.results[0].type), anchor=o)
                self._add(g, o)
                return
            if not self._absorb_reduction(o, where):
                self.log.append(f"{where}: not fused: {decision.reason}")
            return
        shape = dtypes.shape_of(o.results[0].type)
        group: _Group | None = None
        for p in self.graph.predecessors(o):
            candidate = self.group_of.get(p)
            if candidate is None or candidate is group:
                continue
            if candidate.reduction is not None:
                ok = self._epilogue_join(candidate, o, p) if group is None else None
                if ok:
                    self.log.append(f"{where}: joins the group of {_describe(p)} after its reduction: {ok.reason}")
                    group = candidate
                    candidate.epilogue.add(o)
                else:
                    why = ok.reason if ok is not None else "it already joined another group"
                    self.log.append(f"{where}: does not join the group of {_describe(p)}, which ends in "
                                    f"{_describe(candidate.reduction)}: {why}")
                continue
            if group is not None and group.reduction is not None:
                continue  # an epilogue member joins nothing else
            ok = self.policy.can_join(candidate.shape, len(candidate.members) + (len(group.members) if group else 0), o)
            if ok and group is not None and group.anchor is not None and candidate.anchor is not None:
                from spiraltorch.passes.fusion_policy import Decision

                ok = Decision(False, "both groups are epilogues of a matmul")
            elif ok and group is not None:
                ok = self._acyclic_merge(group, candidate, o)
            elif ok:
                ok = self._acyclic_join(candidate, o)
            self.log.append(f"{where}: {'joins' if ok else 'does not join'} the group of {_describe(p)}: "
                            f"{ok.reason}")
            if ok:
                group = candidate if group is None else self._merge(group, candidate)
        if group is None:
            group = _Group(shape)
        self._add(group, o)

    def _epilogue_join(self, g: _Group, o: Operation, p: Operation):
        """o may follow g's reduction when it works on the reduction's result shape and reads only the result, the
        epilogue's values and outside values (not the values before the reduction)."""
        red = g.reduction
        decision = self.policy.can_join(dtypes.shape_of(red.result.type), len(g.members), o)
        if not decision:
            return decision
        for v in o.operands:
            q = _producer(v)
            if q is not None and self.group_of.get(q) is g and q is not red and q not in g.epilogue:
                from spiraltorch.passes.fusion_policy import Decision

                return Decision(False, f"it reads {_describe(q)}, a value from before the reduction")
        return self._acyclic_join(g, o)

    def _absorb_reduction(self, o: Operation, where: str) -> bool:
        """A reduction whose input comes from an elementwise group joins it as the group's last op."""
        p = _producer(o.operands[0]) if o.operands else None
        g = self.group_of.get(p)
        if g is None or g.reduction is not None or g.anchor is not None:
            # no elementwise group to close: the reduction starts a group of its own, which ops on its result
            # can join (an epilogue); alone it stays a plain reduction kernel
            shape = dtypes.shape_of(o.operands[0].type) if o.operands else ()
            if not self.policy.absorbs_reduction(shape, 0, o):
                return False
            g = _Group(shape, reduction=o)
            self._add(g, o)
            self.log.append(f"{where}: starts a group that ops on its result may join")
            return True
        ok = self.policy.absorbs_reduction(g.shape, len(g.members), o)
        self.log.append(f"{where}: {'closes' if ok else 'does not close'} the group of {_describe(p)}: {ok.reason}")
        if ok:
            self._add(g, o)
            g.reduction = o
        return bool(ok)

    def _external_producers(self, members_bits: int, producers: set[Operation]) -> set[Operation]:
        return {p for p in producers if not members_bits >> self.index[p] & 1}

    def _acyclic_join(self, g: _Group, o: Operation):
        from spiraltorch.passes.fusion_policy import Decision

        bits = g.bits | 1 << self.index[o]
        for p in self._external_producers(bits, g.producers | set(self.graph.predecessors(o))):
            if self.ancestors[p] & g.bits:
                return Decision(False, f"{_describe(p)} sits between the group and this op (fusing would make a "
                                       "cycle)")
        return Decision(True, "no path through other ops")

    def _acyclic_merge(self, a: _Group, b: _Group, o: Operation):
        from spiraltorch.passes.fusion_policy import Decision

        bits = a.bits | b.bits | 1 << self.index[o]
        for p in self._external_producers(bits, a.producers | b.producers | set(self.graph.predecessors(o))):
            if self.ancestors[p] & (a.bits | b.bits):
                return Decision(False, f"{_describe(p)} sits between the two groups (merging would make a cycle)")
        return Decision(True, "the groups merge without a cycle")

    def _add(self, g: _Group, o: Operation) -> None:
        g.members.append(o)
        g.bits |= 1 << self.index[o]
        g.producers |= {p for p in self.graph.predecessors(o) if not self.policy.inlinable_constant(p)}
        self.group_of[o] = g

    def _merge(self, a: _Group, b: _Group) -> _Group:
        a.anchor = a.anchor or b.anchor
        for m in b.members:
            self.group_of[m] = a
        a.members = sorted(a.members + b.members, key=self.index.__getitem__)
        a.bits |= b.bits
        a.producers |= b.producers
        return a

    # -- rewriting -----------------------------------------------------------------------------------
    def _outline(self, g: _Group) -> None:
        kind = "reduction" if g.reduction is not None else "matmul" if g.anchor is not None else "elementwise"
        self._outline_ops(g.members, kind)
        self.log.append(f"group of {len(g.members)} ops -> one kernel: {', '.join(_describe(m) for m in g.members)}")

    def _outline_ops(self, ops: list[Operation], kind: str) -> None:
        members = set(ops)
        inputs: list[SSAValue] = []
        constants: list[Operation] = []
        for m in ops:
            for v in m.operands:
                p = _producer(v)
                if p in members:
                    continue
                if p is not None and self.policy.inlinable_constant(p) and kind != "cross_entropy":
                    if p not in constants:
                        constants.append(p)
                elif v not in inputs:
                    inputs.append(v)
        outputs = [r for m in ops for r in m.results if any(u.operation not in members for u in r.uses)]
        block = Block(arg_types=[v.type for v in inputs])
        mapping: dict[SSAValue, SSAValue] = dict(zip(inputs, block.args, strict=True))
        for c in constants:
            block.add_op(c.clone(value_mapper=mapping))
        for m in ops:
            block.add_op(m.clone(value_mapper=mapping))
        block.add_op(YieldOp.create(operands=[mapping[r] for r in outputs]))
        fused = FusedOp.create(operands=inputs, result_types=[r.type for r in outputs],
                               properties={"kind": StringAttr(kind)}, regions=[Region(block)])
        fused.location = ops[-1].location
        self.block.insert_op_before(fused, ops[-1])
        for old, new in zip(outputs, fused.results, strict=True):
            old.replace_all_uses_with(new)
        for m in reversed(ops):
            m.detach()
            m.erase()

    def _reorder(self) -> None:
        """Topological order, as close to the original as possible (fused ops were placed at their last member,
        which may follow an outside user of an earlier member)."""
        term = self.block.last_op
        ops = [o for o in self.block.ops if o is not term]
        pos = {o: i for i, o in enumerate(ops)}
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(ops)
        for o in ops:
            for v in o.operands:
                p = _producer(v)
                if p in pos:
                    graph.add_edge(p, o)
        order = list(nx.lexicographical_topological_sort(graph, key=pos.__getitem__))
        if order == ops:
            return
        for o in ops:
            o.detach()
        for o in order:
            self.block.insert_op_before(o, term)


def _producer(v: SSAValue) -> Operation | None:
    owner = v.owner
    return owner if isinstance(owner, Operation) else None


def _describe(o: Operation) -> str:
    from spiraltorch.ir.ops.base import format_loc

    loc = format_loc(o.location)
    return f"{o.name}" + (f" ({loc})" if loc else "")

"""The native parallel-for of compiled programs: `st_pfor(chunk, ctx, n)` and its worker loop, in LLVM IR.

Host code calls `pfor(chunk, ctx, n)` for kernels marked `spiral.parallel` (llvm_emitter._parallel_call);
the runtime passes the address of `st_pfor` (runtime/parallel.py). The same IR is compiled twice:

* in-process (`install()`): MCJIT, once per process, for programs the JIT compiles (CpuExecutable);
* into every shared object (`object_code(target)`, linked by aot.write_artifact and exported next to
  the entry), so an artifact loaded by the runtime alone (no llvmlite) finds `st_pfor` in its library.

Protocol (one control block per copy of the code, in a private global; the runtime uses one copy per
process): [0, n) is cut into `parts = min(limit, n)` equal ranges. The caller takes the pool with a
try-lock (a second caller, or a chunk calling pfor again, runs its whole range inline instead of
waiting), writes the job, resets `done` and publishes `remaining = parts` (seq_cst); then caller and
workers claim parts by decrementing `remaining` with compare-and-swap (part index = the value taken
minus one) and run them; workers count finished parts in `done`, and the caller waits (256 pauses, then
sched_yield every 64) until `done` plus its own parts make `parts`. Claiming is dynamic, so a worker that is
asleep or descheduled costs nothing: whoever is running takes its part. A worker reads the job only
after its claim succeeded, and a job cannot finish while one of its parts is unclaimed, so the fields
it reads belong to the part it claimed.

Workers (`st_pfor_serve(spin_ns)`, entered by runtime threads through ctypes, which releases the GIL;
it returns only after ctl stop) spin on `remaining` with a pause instruction, reading the clock every 64
pauses and calling sched_yield every 256 (so a spinning worker lets other threads on its CPU run), for
`spin_ns` after their last part, or until they notice they were descheduled (PREEMPTED_NS); then they
sleep: on Linux in futex_wait on `remaining` (the caller issues futex_wake only when the sleepers count is
non-zero; sleepers++ and the re-check of `remaining` are seq_cst, like the caller's publish and its read of
sleepers, so no wake-up is lost), elsewhere by polling with usleep(200) (untested).

`st_pfor_ctl(op, arg)`: 0 set limit (returns the old one; limit <= 1 runs everything inline),
1 workers registered, 2 parts run by workers so far, 3 sleeping workers, 4 reset (in a forked child:
none of the workers exists there), 5 stop (limit 1, and the workers return from st_pfor_serve: at exit,
before the code they run may be unmapped).
"""

from __future__ import annotations

import functools

PFOR_SYMBOL = "st_pfor"
SERVE_SYMBOL = "st_pfor_serve"
CTL_SYMBOL = "st_pfor_ctl"
EXPORTS = (PFOR_SYMBOL, SERVE_SYMBOL, CTL_SYMBOL)

# control block words (i64), one cache line (8 words) per group that different threads write
W_BUSY, W_REMAIN, W_DONE, W_WPARTS, W_SLEEPERS, W_WORKERS, W_LIMIT, W_STOP, W_JOB = 0, 8, 16, 17, 24, 25, 26, 27, 32
_WORDS = 40
# An idle worker whose clock jumped by this much between two looks (64 pauses, ~5 us apart) was descheduled:
# the CPU is contended, and a spinning thread then only gets CPU when its time slice comes (after the work is
# done), while a thread sleeping in futex_wait is run soon after its wake-up. So it goes to sleep at once.
PREEMPTED_NS = 100_000

_FUTEX_NR = {"x86_64": 202, "aarch64": 98, "arm64": 98}  # SYS_futex on Linux
_FUTEX_WAIT_PRIVATE, _FUTEX_WAKE_PRIVATE = 128, 129
_CLOCK_MONOTONIC = {"linux": 1, "darwin": 6, "apple": 6}

_IR = """
@st_pfor_state = internal global [{{WORDS}} x i64] zeroinitializer, align 64

declare i32 @sched_yield()
declare i32 @clock_gettime(i32, ptr)
{{DECLS}}

define internal i64 @st_pfor_now() nounwind {
  %ts = alloca [2 x i64], align 8
  %r = call i32 @clock_gettime(i32 {{CLOCK}}, ptr %ts)
  %s = load i64, ptr %ts, align 8
  %nsp = getelementptr inbounds i64, ptr %ts, i64 1
  %ns = load i64, ptr %nsp, align 8
  %s1 = mul i64 %s, 1000000000
  %t = add i64 %s1, %ns
  ret i64 %t
}

; part idx of [0, n) cut into parts: [n*idx/parts, n*(idx+1)/parts)
define internal void @st_pfor_part(ptr %chunk, ptr %ctx, i64 %n, i64 %parts, i32 %idx32) nounwind {
  %idx = zext i32 %idx32 to i64
  %a = mul i64 %n, %idx
  %lo = udiv i64 %a, %parts
  %b = add i64 %a, %n
  %hi = udiv i64 %b, %parts
  call void %chunk(ptr %ctx, i64 %lo, i64 %hi)
  ret void
}

define void @st_pfor(ptr %chunk, ptr %ctx, i64 %n) nounwind {
entry:
  %remainp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{REMAIN}}
  %donep = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{DONE}}
  %sleepersp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{SLEEPERS}}
  %limitp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{LIMIT}}
  %jobp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{JOB}}
  %limit = load atomic i64, ptr %limitp monotonic, align 8
  %fewer = icmp slt i64 %n, %limit
  %parts = select i1 %fewer, i64 %n, i64 %limit
  %multi = icmp sgt i64 %parts, 1
  br i1 %multi, label %lock, label %inline
lock:
  %pair = cmpxchg ptr @st_pfor_state, i32 0, i32 1 acquire monotonic, align 8
  %got = extractvalue { i32, i1 } %pair, 1
  br i1 %got, label %post, label %inline
inline:
  %some = icmp sgt i64 %n, 0
  br i1 %some, label %run_all, label %out
run_all:
  call void %chunk(ptr %ctx, i64 0, i64 %n)
  br label %out
out:
  ret void
post:
  store ptr %chunk, ptr %jobp, align 8
  %j1 = getelementptr inbounds i64, ptr %jobp, i64 1
  store ptr %ctx, ptr %j1, align 8
  %j2 = getelementptr inbounds i64, ptr %jobp, i64 2
  store i64 %n, ptr %j2, align 8
  %j3 = getelementptr inbounds i64, ptr %jobp, i64 3
  store i64 %parts, ptr %j3, align 8
  store atomic i64 0, ptr %donep monotonic, align 8
  %parts32 = trunc i64 %parts to i32
  store atomic i32 %parts32, ptr %remainp seq_cst, align 8
  %sleepers = load atomic i32, ptr %sleepersp seq_cst, align 8
  %asleep = icmp ne i32 %sleepers, 0
  br i1 %asleep, label %wake, label %claim
wake:
  {{WAKE}}
  br label %claim
claim:
  %mine = phi i64 [0, %post], [0, %wake], [%mine, %take], [%mine1, %run]
  %r = load atomic i32, ptr %remainp monotonic, align 8
  %left = icmp ne i32 %r, 0
  br i1 %left, label %take, label %wait
take:
  %r1 = sub i32 %r, 1
  %c = cmpxchg ptr %remainp, i32 %r, i32 %r1 acq_rel monotonic, align 8
  %ok = extractvalue { i32, i1 } %c, 1
  br i1 %ok, label %run, label %claim
run:
  call void @st_pfor_part(ptr %chunk, ptr %ctx, i64 %n, i64 %parts, i32 %r1)
  %mine1 = add i64 %mine, 1
  br label %claim
wait:
  %need = sub i64 %parts, %mine
  br label %poll
poll:
  %i = phi i64 [0, %wait], [%i1, %spin], [%i1, %yield]
  %done = load atomic i64, ptr %donep acquire, align 8
  %finished = icmp sge i64 %done, %need
  br i1 %finished, label %release, label %spin
spin:
  {{PAUSE}}
  %i1 = add i64 %i, 1
  %low = and i64 %i1, 63
  %tick = icmp eq i64 %low, 0
  %long = icmp uge i64 %i1, 256
  %y = and i1 %tick, %long
  br i1 %y, label %yield, label %poll
yield:
  %yr = call i32 @sched_yield()
  br label %poll
release:
  store atomic i32 0, ptr @st_pfor_state release, align 8
  ret void
}

define void @st_pfor_serve(i64 %spin) nounwind {
entry:
  %remainp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{REMAIN}}
  %donep = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{DONE}}
  %wpartsp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{WPARTS}}
  %sleepersp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{SLEEPERS}}
  %workersp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{WORKERS}}
  %stopp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{STOP}}
  %jobp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{JOB}}
  %j1 = getelementptr inbounds i64, ptr %jobp, i64 1
  %j2 = getelementptr inbounds i64, ptr %jobp, i64 2
  %j3 = getelementptr inbounds i64, ptr %jobp, i64 3
  %reg = atomicrmw add ptr %workersp, i64 1 monotonic, align 8
  %t0 = call i64 @st_pfor_now()
  br label %loop
loop:
  %start = phi i64 [%t0, %entry], [%start, %take], [%t1, %run], [%start, %idle], [%start, %idle_now],
                   [{{RESTART}}, %woke]
  %i = phi i64 [0, %entry], [0, %take], [0, %run], [%i1, %idle], [%i1, %idle_now], [0, %woke]
  %last = phi i64 [%t0, %entry], [%last, %take], [%t1, %run], [%last, %idle], [%now, %idle_now], [%t2, %woke]
  %r = load atomic i32, ptr %remainp monotonic, align 8
  %has = icmp ne i32 %r, 0
  br i1 %has, label %take, label %idle
take:
  %r1 = sub i32 %r, 1
  %c = cmpxchg ptr %remainp, i32 %r, i32 %r1 acquire monotonic, align 8
  %ok = extractvalue { i32, i1 } %c, 1
  br i1 %ok, label %run, label %loop
run:
  %chunk = load ptr, ptr %jobp, align 8
  %ctx = load ptr, ptr %j1, align 8
  %n = load i64, ptr %j2, align 8
  %parts = load i64, ptr %j3, align 8
  call void @st_pfor_part(ptr %chunk, ptr %ctx, i64 %n, i64 %parts, i32 %r1)
  %d = atomicrmw add ptr %donep, i64 1 release, align 8
  %w = atomicrmw add ptr %wpartsp, i64 1 monotonic, align 8
  %t1 = call i64 @st_pfor_now()
  br label %loop
idle:
  {{PAUSE}}
  %i1 = add i64 %i, 1
  %low = and i64 %i1, 63
  %check = icmp eq i64 %low, 0
  br i1 %check, label %idle_clock, label %loop
idle_clock:
  %low2 = and i64 %i1, 255
  %courtesy = icmp eq i64 %low2, 0
  br i1 %courtesy, label %idle_yield, label %idle_time
idle_yield:
  %yr = call i32 @sched_yield()
  br label %idle_time
idle_time:
  %stop = load atomic i64, ptr %stopp monotonic, align 8
  %stopped = icmp ne i64 %stop, 0
  br i1 %stopped, label %quit, label %idle_now
quit:
  %unreg = atomicrmw sub ptr %workersp, i64 1 monotonic, align 8
  ret void
idle_now:
  %now = call i64 @st_pfor_now()
  %elapsed = sub i64 %now, %start
  %spinning = icmp slt i64 %elapsed, %spin
  %gap = sub i64 %now, %last
  %ran = icmp slt i64 %gap, {{PREEMPTED_NS}}
  %more = and i1 %spinning, %ran
  br i1 %more, label %loop, label %sleep
sleep:
  %s0 = atomicrmw add ptr %sleepersp, i32 1 seq_cst, align 8
  %r2 = load atomic i32, ptr %remainp seq_cst, align 8
  %none = icmp eq i32 %r2, 0
  br i1 %none, label %block, label %woke
block:
  {{SLEEP}}
  br label %woke
woke:
  %s1 = atomicrmw sub ptr %sleepersp, i32 1 seq_cst, align 8
  %t2 = call i64 @st_pfor_now()
  br label %loop
}

define i64 @st_pfor_ctl(i64 %op, i64 %arg) nounwind {
entry:
  %remainp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{REMAIN}}
  %donep = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{DONE}}
  %wpartsp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{WPARTS}}
  %sleepersp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{SLEEPERS}}
  %workersp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{WORKERS}}
  %limitp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{LIMIT}}
  %stopp = getelementptr inbounds i64, ptr @st_pfor_state, i64 {{STOP}}
  switch i64 %op, label %bad [i64 0, label %set_limit
                              i64 1, label %workers
                              i64 2, label %wparts
                              i64 3, label %sleeping
                              i64 4, label %reset
                              i64 5, label %stop]
set_limit:
  %old = atomicrmw xchg ptr %limitp, i64 %arg seq_cst, align 8
  ret i64 %old
workers:
  %nw = load atomic i64, ptr %workersp seq_cst, align 8
  ret i64 %nw
wparts:
  %np = load atomic i64, ptr %wpartsp seq_cst, align 8
  ret i64 %np
sleeping:
  %ns = load atomic i32, ptr %sleepersp seq_cst, align 8
  %ns64 = zext i32 %ns to i64
  ret i64 %ns64
reset:
  store atomic i32 0, ptr @st_pfor_state seq_cst, align 8
  store atomic i32 0, ptr %remainp seq_cst, align 8
  store atomic i64 0, ptr %donep seq_cst, align 8
  store atomic i32 0, ptr %sleepersp seq_cst, align 8
  store atomic i64 0, ptr %workersp seq_cst, align 8
  store atomic i64 0, ptr %stopp seq_cst, align 8
  ret i64 0
stop:
  store atomic i64 1, ptr %limitp seq_cst, align 8
  store atomic i64 1, ptr %stopp seq_cst, align 8
  {{WAKE}}
  ret i64 0
bad:
  ret i64 -1
}
"""


def ir_text(triple: str) -> str:
    """The module for an LLVM target triple (the pause instruction, futex and clock id depend on it)."""
    arch, _, rest = triple.partition("-")
    linux = "linux" in rest
    clock = 1 if linux else next((v for k, v in _CLOCK_MONOTONIC.items() if k in rest), 1)
    decls = []
    if arch in ("x86_64", "i386", "i686"):
        decls.append("declare void @llvm.x86.sse2.pause()")
        pause = "call void @llvm.x86.sse2.pause()"
    elif arch in ("aarch64", "arm64"):
        decls.append("declare void @llvm.aarch64.hint(i32)")
        pause = "call void @llvm.aarch64.hint(i32 1)"  # YIELD
    else:
        pause = ""
    nr = _FUTEX_NR.get(arch) if linux else None
    if nr is not None:
        decls.append("declare i64 @syscall(i64, ...)")
        wake = (f"%wk = call i64 (i64, ...) @syscall(i64 {nr}, ptr %remainp, i64 {_FUTEX_WAKE_PRIVATE}, "
                "i64 2147483647)")
        sleep = (f"%fw = call i64 (i64, ...) @syscall(i64 {nr}, ptr %remainp, i64 {_FUTEX_WAIT_PRIVATE}, "
                 "i64 0, ptr null)")
        restart = "%t2"  # woken: spin again, more work is likely to follow
    else:
        decls.append("declare i32 @usleep(i32)")
        wake = ""
        sleep = "%us = call i32 @usleep(i32 200)"
        restart = "%start"  # polling: go back to sleep after one look
    subs = {"WORDS": _WORDS, "REMAIN": W_REMAIN, "DONE": W_DONE, "WPARTS": W_WPARTS, "SLEEPERS": W_SLEEPERS,
            "WORKERS": W_WORKERS, "LIMIT": W_LIMIT, "STOP": W_STOP, "JOB": W_JOB, "CLOCK": clock,
            "PREEMPTED_NS": PREEMPTED_NS, "DECLS": "\n".join(decls), "PAUSE": pause, "WAKE": wake, "SLEEP": sleep,
            "RESTART": restart}
    text = _IR
    for key, value in subs.items():
        text = text.replace("{{" + key + "}}", str(value))
    return f'target triple = "{triple}"\n' + text


def _compile(triple: str, tm):
    import llvmlite.binding as llvm

    from spiraltorch.codegen import mathlib

    ref = llvm.parse_assembly(ir_text(triple))
    ref.data_layout = str(tm.target_data)
    ref.verify()
    mathlib.run_o3(ref, tm, vectorize=False)
    return ref


class _Jit:
    """The in-process copy (one MCJIT engine per process)."""

    def __init__(self):
        import llvmlite.binding as llvm

        from spiraltorch.codegen import mathlib

        target = mathlib.host_target()
        tm = mathlib.create_target_machine(target)
        self.engine = llvm.create_mcjit_compiler(_compile(target.triple, tm), tm)
        self.engine.finalize_object()
        self.addresses = {name: self.engine.get_function_address(name) for name in EXPORTS}


@functools.cache
def jit() -> _Jit:
    return _Jit()


def install() -> bool:
    """Make the runtime use the in-process native pfor (unless it uses a native one already)."""
    from runtime import parallel

    if parallel.native_installed():
        return False
    j = jit()
    return parallel.install_native(j.addresses[PFOR_SYMBOL], j.addresses[SERVE_SYMBOL], j.addresses[CTL_SYMBOL],
                                   keepalive=j, source="jit")


@functools.cache
def object_code(target) -> bytes:
    """The pfor module as position-independent object code for `target` (a mathlib.Target), linked into
    every shared object: aot.write_artifact exports EXPORTS next to the entry."""
    from spiraltorch.codegen import mathlib

    tm = mathlib.create_target_machine(target, reloc="pic")
    return tm.emit_object(_compile(target.triple, tm))

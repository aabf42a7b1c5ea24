"""Run a fuzz target in a child process and report what happened (issue 9, harness 5).

Allowed outcomes for every input: success or a typed lpgdb error, within the time limit, without
a crash. ``fuzz()`` returns a ``Report`` whose ``problems`` list says otherwise: each finding
(an untyped error), a crash (the child died by a signal) or a hang (no progress for
``hang_after`` seconds), with the input that caused it.
"""
from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120.0     # the longest a child may take to start before it is called hung


@dataclass
class Report:
    target: str
    engine: str
    inputs: int = 0
    seconds: float = 0.0
    findings: List[str] = field(default_factory=list)
    crash: Optional[str] = None
    hang: Optional[str] = None
    output: str = ""

    @property
    def problems(self) -> List[str]:
        out = list(self.findings)
        if self.crash:
            out.append(self.crash)
        if self.hang:
            out.append(self.hang)
        return out

    def summary(self) -> str:
        return (f"{self.target}/{self.engine}: {self.inputs} inputs in {self.seconds:.0f} s, "
                f"{len(self.findings)} untyped errors, {int(bool(self.crash))} crashes, "
                f"{int(bool(self.hang))} hangs")


def _input(target: str, seed: int, n: int):
    """Regenerate input number ``n`` of a random-engine run (the generator is deterministic)."""
    from tests.fuzz.targets import TARGETS
    gen = TARGETS[target][0] if target in TARGETS else (lambda rnd: rnd.random())
    rnd = random.Random(seed)
    for _ in range(n):
        gen(rnd)
    inp = gen(rnd)
    r = repr(inp)
    return r if len(r) < 4000 else r[:4000] + "..."


def fuzz(target: str, seconds: float, *, engine: str = "random", seed: int = 0,
         max_inputs: Optional[int] = None, hang_after: float = 60.0, workdir=None) -> Report:
    workdir = Path(workdir or ROOT / ".fuzz" / target)
    workdir.mkdir(parents=True, exist_ok=True)
    extra = str(max_inputs or 0) if engine == "random" else str(int(hang_after))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "tests.fuzz.worker", target, engine, str(seconds), str(seed), str(workdir), extra]
    rep = Report(target, engine)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    last, lines, buf, ready = -1, [], b"", False
    try:
        while True:
            # the atheris engine reports its own hangs; allow it time to do so.  Before the child
            # says READY it is starting Python and importing lpgdb: slow on a loaded machine, no hang.
            wait = hang_after if engine == "random" else hang_after * 3 + 60
            if not ready:
                wait = max(wait, STARTUP_SECONDS)
            ready, _, _ = select.select([proc.stdout], [], [], wait)
            if not ready:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rep.hang = (f"HANG: no progress for {wait:.0f} s after input {last}"
                            + (f": {_input(target, seed, last)}" if engine == "random" and last >= 0 else ""))
                break
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *complete, buf = buf.split(b"\n")
            for raw in complete:
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if line == "READY":
                    ready = True
                elif line.startswith("I "):
                    ready = True
                    last = int(line[2:])
                elif line.startswith("F "):
                    n, _, msg = line[2:].partition(" ")
                    rep.findings.append(f"UNTYPED on input {n}: {msg}: {_input(target, seed, int(n))}")
                elif line.startswith("DONE "):
                    rep.inputs = int(line.split()[1])
                elif line.startswith("Done ") and " runs " in line:        # libFuzzer
                    rep.inputs = int(line.split()[1])
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
    rep.seconds = time.monotonic() - start
    rep.output = "\n".join(l for l in lines if not l.startswith("I "))[-20000:]
    if rep.hang is None and rc != 0:
        if rc < 0:
            rep.crash = (f"CRASH: signal {-rc} after input {last}"
                         + (f": {_input(target, seed, last)}" if engine == "random" and last >= 0 else ""))
        elif engine == "atheris":           # libFuzzer found something: its report says what
            kinds = [k for k in ("deadly signal", "timeout", "out-of-memory", "Uncaught Python exception")
                     if k in rep.output]
            artifacts = sorted(p.name for p in workdir.glob("*-*") if p.is_file() and not p.name.startswith("seed"))
            msg = f"libFuzzer stopped ({', '.join(kinds) or f'exit {rc}'}); artifacts: {artifacts}"
            if "timeout" in kinds:
                rep.hang = "HANG: " + msg
            elif "Uncaught Python exception" in kinds:
                rep.findings.append("UNTYPED: " + msg)
            else:
                rep.crash = "CRASH: " + msg
        else:
            rep.crash = f"CRASH: exit status {rc} after input {last}"
    return rep

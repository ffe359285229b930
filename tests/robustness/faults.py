#!/usr/bin/env python3
"""Fault tests of the run directory: kills at random moments, concurrent
writers, a full disk, and the death of a launcher.

Usage: faults.py LEAVES [kill|concurrent|disk|launcher|all] [--rounds N] [--seed S]

kill:       pre-training killed with SIGKILL at a random moment (before the
            first checkpoint, inside epochs, during checkpoint writes), then
            resumed: every round must resume, its log must list each epoch
            once, and the final encoder must equal an uninterrupted run's.
concurrent: a second writer of a run directory is refused, and a fresh run
            into a folder another run holds is refused.
disk:       an injected full disk (LEAVES_FAULT_ENOSPC_AFTER) at many points
            of a run and of a prepare: one clear error, never an abort, the
            earlier good output kept, no temporaries left; the run resumes.
            Also a real 3 MB tmpfs when this user may mount one.
launcher:   `leaves launch` killed with SIGKILL takes its workers with it.
"""
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

LEAVES = os.path.abspath(sys.argv[1])
WHAT = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else "all"
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 30
SEED = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
RUN = ["pretrain", "--data", "synthetic:size=256,length=128", "--epochs", "6", "--batch-size", "16", "--width", "4",
       "--checkpoint-every", "1", "--min-steps", "0"]
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL", what, flush=True)
    return ok


def leaves(args, env=None, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([LEAVES] + args, capture_output=True, timeout=timeout, env=e)


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def log_epochs(run):
    out = []
    if not os.path.exists(os.path.join(run, "log.jsonl")):  # killed before its first epoch ended
        return out
    with open(os.path.join(run, "log.jsonl")) as f:
        for line in f:
            out.append(json.loads(line)["epoch"])
    return out


def temporaries(folder):
    found = []
    for root, dirs, files in os.walk(folder):
        found += [os.path.join(root, n) for n in files + dirs if ".tmp." in n]
    return found


def test_kill(tmp):
    # Long enough that most kills land inside epochs and checkpoint writes.
    RUN = ["pretrain", "--data", "synthetic:size=1024,length=128", "--epochs", "6", "--batch-size", "16", "--width",
           "4", "--checkpoint-every", "1", "--min-steps", "0"]
    ref = os.path.join(tmp, "ref")
    t0 = time.time()
    p = leaves(RUN + ["--out", ref])
    full = time.time() - t0
    if not check(p.returncode == 0, "reference run: " + p.stderr.decode()[-300:]):
        return
    want = digest(os.path.join(ref, "encoder.pt"))
    rng = random.Random(SEED)
    identical = resumed = 0
    for r in range(ROUNDS):
        run = os.path.join(tmp, "k%02d" % r)
        # Spread over the whole run, start-up and first epoch included.
        delay = rng.uniform(0.0, full * 1.05)
        proc = subprocess.Popen([LEAVES] + RUN + ["--out", run], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if os.path.exists(os.path.join(run, "config.json")):
            p = leaves(["pretrain", "--resume", run])
        else:  # killed before config.json: the folder holds at most the lock, so a new run may start there
            p = leaves(RUN + ["--out", run])
        if not check(p.returncode == 0, f"round {r} (killed after {delay:.2f} s) did not resume: "
                                        f"{p.stderr.decode()[-300:]}"):
            continue
        resumed += 1
        epochs = log_epochs(run)
        check(epochs == [1, 2, 3, 4, 5, 6], f"round {r}: log epochs {epochs}")
        check(not temporaries(run), f"round {r}: temporaries left {temporaries(run)}")
        if digest(os.path.join(run, "encoder.pt")) == want:
            identical += 1
        shutil.rmtree(run, ignore_errors=True)
    check(identical == resumed, f"kill: {resumed - identical} resumed runs differ from the uninterrupted one")
    print(f"kill: {ROUNDS} rounds (SIGKILL at 0 to {full * 1.05:.2f} s), {resumed} resumed, "
          f"{identical} bit-identical to the uninterrupted run", flush=True)


def test_concurrent(tmp):
    run = os.path.join(tmp, "busy")
    first = subprocess.Popen([LEAVES] + RUN[:4] + ["60"] + RUN[5:] + ["--out", run], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    for _ in range(200):  # until the first holds the folder
        if os.path.exists(os.path.join(run, "config.json")):
            break
        time.sleep(0.05)
    second = leaves(["pretrain", "--resume", run, "--epochs", "70"])
    msg = second.stderr.decode()
    check(second.returncode == 2 and "in use by another leaves process" in msg, "second resume let in: " + msg)
    third = leaves(RUN + ["--out", run])
    check(third.returncode == 2, "a fresh run into a running run's folder: " + third.stderr.decode())
    first.send_signal(signal.SIGKILL)
    first.wait()
    epochs = log_epochs(run)
    check(epochs == sorted(set(epochs)), f"concurrent: log epochs {epochs}")
    print(f"concurrent: second writer refused ({msg.strip()[:90]}...)", flush=True)


def test_disk(tmp):
    ref = os.path.join(tmp, "dref")
    if not check(leaves(RUN + ["--out", ref]).returncode == 0, "disk reference run"):
        return
    want = log_epochs(ref)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(ref) for f in fs)
    rng = random.Random(SEED + 1)
    budgets = sorted({0, 1, 100, 4096} | {rng.randrange(total) for _ in range(12)})
    aborted = 0
    for b in budgets:
        run = os.path.join(tmp, "d%d" % b)
        p = leaves(RUN + ["--out", run], env={"LEAVES_FAULT_ENOSPC_AFTER": str(b)})
        err = p.stderr.decode()
        if p.returncode in (134, -6) or "terminate called" in err:
            aborted += 1
        check(p.returncode == 1 and "No space left on device" in err and err.count("\n") == 1,
              f"disk budget {b}: exit {p.returncode}: {err[-300:]}")
        check(not temporaries(run) if os.path.exists(run) else True, f"disk budget {b}: temporaries left")
        # Then the disk has room again: the run resumes (or starts anew) and completes.
        again = leaves(["pretrain", "--resume", run] if os.path.exists(os.path.join(run, "config.json"))
                       else RUN + ["--out", run])
        if check(again.returncode == 0, f"disk budget {b}: no recovery: {again.stderr.decode()[-300:]}"):
            check(log_epochs(run) == want, f"disk budget {b}: log {log_epochs(run)}")
    check(aborted == 0, f"disk: {aborted} aborts")
    # prepare: the earlier good set stays whole.
    good = os.path.join(tmp, "prep")
    check(leaves(["prepare", "synthetic:size=200,length=128", "--out", good]).returncode == 0, "prepare")
    before = {f: digest(os.path.join(good, f)) for f in os.listdir(good)}
    for b in [0, 10, 5000, 50000]:
        p = leaves(["prepare", "synthetic:size=200,length=128,seed=9", "--out", good],
                   env={"LEAVES_FAULT_ENOSPC_AFTER": str(b)})
        check(p.returncode == 1 and "No space left" in p.stderr.decode(), f"prepare budget {b}: {p.stderr[-200:]}")
        check({f: digest(os.path.join(good, f)) for f in os.listdir(good)} == before, f"prepare budget {b}: set changed")
        check(not [n for n in os.listdir(tmp) if ".tmp." in n], f"prepare budget {b}: temporary left")
    print(f"disk: {len(budgets)} injected full disks in pre-training and 4 in prepare: no abort, nothing lost",
          flush=True)
    # A real small filesystem, where this user may mount one (root, or a user namespace).
    mnt = os.path.join(tmp, "small")
    os.makedirs(mnt)
    script = (f"mount -t tmpfs -o size=3m tmpfs {mnt} && cd {mnt} && "
              f"{LEAVES} pretrain --min-steps 0 --data synthetic:size=256,length=128 --epochs 20 --batch-size 16 --width 16 "
              f"--checkpoint-every 1 --out run; echo rc=$?; ls run run/checkpoints | grep -c tmp; true")
    for cmd in (["unshare", "-rm", "sh", "-c", script], ["unshare", "-m", "sh", "-c", script]):
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired):
            continue
        out = p.stdout.decode()
        if "rc=" not in out:
            continue
        rc = int(out.split("rc=")[1].split()[0])
        check(rc == 1 and "No space left on device" in p.stderr.decode(), f"tmpfs: exit {rc}: {p.stderr[-300:]}")
        check(out.strip().endswith("0"), "tmpfs: temporaries left")
        print(f"disk: a real 3 MB tmpfs filled by pre-training: exit {rc}, no temporaries", flush=True)
        break
    else:
        print("disk: no tmpfs test (this user may not mount one)", flush=True)


def test_launcher(tmp):
    run = os.path.join(tmp, "launched-run")
    launcher = subprocess.Popen([LEAVES, "launch", "--nproc", "2", "--", "pretrain", "--data",
                                 "synthetic:size=256,length=128", "--epochs", "200", "--batch-size", "16", "--width",
                                 "4", "--min-steps", "0", "--out", run], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def workers():
        p = subprocess.run(["pgrep", "-f", "--", "--out " + run], capture_output=True)
        return [int(x) for x in p.stdout.split() if int(x) != launcher.pid]

    for _ in range(200):
        if len(workers()) == 2 and os.path.exists(os.path.join(run, "config.json")):
            break
        time.sleep(0.05)
    check(len(workers()) == 2, "launcher: workers did not start")
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    t0 = time.time()
    while workers() and time.time() - t0 < 5:
        time.sleep(0.05)
    left = workers()
    check(not left, f"launcher: workers {left} outlived their launcher")
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    print(f"launcher: killed with SIGKILL, its workers ended within {time.time() - t0:.2f} s", flush=True)


def main():
    tmp = tempfile.mkdtemp(prefix="leaves-faults-")
    try:
        for name, fn in [("kill", test_kill), ("concurrent", test_concurrent), ("disk", test_disk),
                         ("launcher", test_launcher)]:
            if WHAT in (name, "all"):
                fn(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("faults:", "all as expected" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

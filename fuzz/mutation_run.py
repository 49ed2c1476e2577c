#!/usr/bin/env python3
"""Mutation run of the tools on hostile files, as real processes.

The in-process fuzz targets (make fuzz) exercise the parsers; this runs
the tools themselves, the way a careless or hostile user's file reaches
them, and checks what a user sees:
  - region files: a real region, retargeted to a live process that maps
    the file as a tslab process maps its region, mutated (bit flips,
    random bytes, copied words, truncation, mostly in the header where
    every bound comes from), read by
    `stats_dump -p PID --json`, `stats_dump -p PID` (JSON and text) and
    `stats_dump --list --json`;
  - region files kept at exit (keep_stats=1: state EXITED) by a process
    that is gone, mutated likewise, read by the same three commands (the
    exited-region path: `-p` of a dead pid, `--list`'s exited entries);
  - ELF files: libtslab.so without debug info, mutated likewise (mostly in
    its note and section headers), read by `tslab-trace --list --json
    --binary FILE`.
A finding is a crash (killed by a signal), a hang (no exit in 10 s), or
exit status 0 with output that is not valid JSON. Prints the counts; exit
1 on any finding (the failing input is kept in --keep DIR).

Usage: fuzz/mutation_run.py [--regions N] [--exited N] [--elfs N]
                            [--build DIR] [--seed S] [--keep DIR]
"""
import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 10


def start_ticks(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        s = f.read()
    return int(s[s.rindex(b")") + 2:].split()[19])


def real_region(build, workdir):
    """A region file of a live tslab-demo, copied while it runs."""
    d = os.path.join(workdir, "demo-stats")
    os.mkdir(d)
    ready = os.path.join(workdir, "ready")
    env = dict(os.environ, TSLAB_STATS_DIR=d)
    demo = subprocess.Popen(
        [f"{build}/bin/tslab-demo", "--name", "mutate", "--duration", "30",
         "--pause-ms", "1", "--ready-file", ready],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3000):
            if os.path.exists(ready) and os.path.getsize(ready) > 0:
                break
            time.sleep(0.01)
        time.sleep(0.3)  # some counters moving
        files = [f for f in os.listdir(d) if f.endswith(".stats")]
        with open(os.path.join(d, files[0]), "rb") as f:
            return bytearray(f.read())
    finally:
        demo.kill()
        demo.wait()


# Maps tslab-<its pid>-1.stats in the directory argv[1] once it is whole,
# says so by creating argv[2], and sleeps.
HOLDER = """
import mmap, os, sys, time
path = os.path.join(sys.argv[1], "tslab-%d-1.stats" % os.getpid())
while not (os.path.exists(path) and os.path.getsize(path) >= 4096):
    time.sleep(0.01)
f = open(path, "rb")
m = mmap.mmap(f.fileno(), os.path.getsize(path), prot=mmap.PROT_READ)
open(sys.argv[2], "w").close()
time.sleep(3600)
"""


def retarget(image, pid):
    # TslabRegionHeader: magic u64, layout u32, header_size u32,
    # region_size u64, pid i64 (offset 24), start_time_ticks u64 (32).
    struct.pack_into("<qQ", image, 24, pid, start_ticks(pid))


def exited(image, workdir):
    """The image as a process that is gone would have left it with
    keep_stats=1: its pid and start time, state EXITED (3, offset 68), an
    exit time (offset 336). Returns (image, pid)."""
    gone = subprocess.Popen(["sleep", "0.2"])
    ticks = start_ticks(gone.pid)
    gone.wait()
    out = bytearray(image)
    struct.pack_into("<qQ", out, 24, gone.pid, ticks)
    struct.pack_into("<I", out, 68, 3)
    struct.pack_into("<Q", out, 336, time.time_ns())
    return out, gone.pid


def elf_regions(elf):
    """(offset, size) of the ELF header and program headers, the
    .note.stapsdt section, and the section header table (ELF64)."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3a)
    def section(i):
        name, _, _, _, off, size = struct.unpack_from(
            "<IIQQQQ", elf, shoff + i * shentsize)
        return name, off, size
    _, strtab, _ = section(shstrndx)
    notes = (0, 4096)
    for i in range(shnum):
        name, off, size = section(i)
        end = elf.index(b"\0", strtab + name)
        if elf[strtab + name:end] == b".note.stapsdt":
            notes = (off, size)
    return [(0, 4096), notes, (shoff, shnum * shentsize)]


def mutate(rng, data, hot_bytes):
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 5, 8))):
        at = rng.randrange(hot_bytes) if rng.random() < 0.8 else \
            rng.randrange(len(out))
        kind = rng.random()
        if kind < 0.4:
            out[at] ^= 1 << rng.randrange(8)
        elif kind < 0.7:
            out[at] = rng.randrange(256)
        elif kind < 0.85 and at + 8 <= len(out):
            word = rng.choice((0, 2**64 - 1, 2**63, 2**64 - 8, 1 << 32,
                               rng.getrandbits(64)))
            struct.pack_into("<Q", out, at - at % 8, word)
        else:
            src = rng.randrange(len(out) - 8)
            at8 = at - at % 8
            if at8 + 8 <= len(out):
                out[at8:at8 + 8] = out[src:src + 8]
    if rng.random() < 0.1:
        del out[rng.randrange(len(out)):]
    return out


def check(argv, env, keep, label, data, findings, codes):
    try:
        r = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        findings.append((label, "hang", argv))
        save(keep, label, data)
        return
    tool = os.path.basename(argv[0])
    codes.setdefault(tool, {})
    codes[tool][r.returncode] = codes[tool].get(r.returncode, 0) + 1
    if r.returncode < 0 or r.returncode >= 128:
        findings.append((label, f"crash rc {r.returncode}: "
                         f"{r.stderr[-300:]!r}", argv))
        save(keep, label, data)
        return
    if r.returncode == 0 and "--json" in argv:
        try:
            for line in r.stdout.decode("utf-8").splitlines():
                if line.strip():
                    json.loads(line)
        except (UnicodeDecodeError, ValueError) as e:
            findings.append((label, f"rc 0, invalid JSON: {e}", argv))
            save(keep, label, data)


def save(keep, label, data):
    if keep:
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, label), "wb") as f:
            f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--regions", type=int, default=10000)
    ap.add_argument("--exited", type=int, default=2000)
    ap.add_argument("--elfs", type=int, default=2000)
    ap.add_argument("--build", default="build")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", default="build/mutation-findings")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    rng = random.Random(a.seed)
    findings = []
    codes = {}  # tool -> exit status -> runs
    work = tempfile.mkdtemp(prefix="tslab-mutate.")
    # The owner stands in for a tslab process: it maps its region file (a
    # reader counts a file as a process's only while it maps it), then
    # sleeps. Each mutant is written into that same file (same inode).
    stats = os.path.join(work, "stats")
    os.mkdir(stats, 0o700)
    ready = os.path.join(work, "held")
    sleeper = subprocess.Popen([sys.executable, "-c", HOLDER, stats, ready])
    try:
        base = real_region(a.build, work)
        retarget(base, sleeper.pid)
        env = dict(os.environ, TSLAB_STATS_DIR=stats)
        target = os.path.join(stats, f"tslab-{sleeper.pid}-1.stats")
        with open(target, "wb") as f:
            f.write(base)
        while not os.path.exists(ready):
            time.sleep(0.01)
        dump = f"{a.build}/bin/stats_dump"
        commands = [[dump, "-p", str(sleeper.pid), "--json"],
                    [dump, "-p", str(sleeper.pid)],
                    [dump, "--list", "--json"]]
        t0 = time.time()
        for i in range(a.regions):
            data = mutate(rng, base, 512)
            with open(target, "wb") as f:
                f.write(data)
            argv = commands[i % len(commands)]
            check(argv, env, a.keep, f"region-{i}", data, findings, codes)
        region_s = time.time() - t0

        # Kept at exit by a process that is gone: no owner maps it.
        kept_dir = os.path.join(work, "kept")
        os.mkdir(kept_dir, 0o700)
        kept_base, dead = exited(base, work)
        kept = os.path.join(kept_dir, f"tslab-{dead}-1.stats")
        kept_env = dict(os.environ, TSLAB_STATS_DIR=kept_dir)
        kept_cmds = [[dump, "-p", str(dead), "--json"], [dump, "-p", str(dead)],
                     [dump, "--list", "--json"]]
        with open(kept, "wb") as f:
            f.write(kept_base)
        # The unmutated file must read as an exited region, or this phase
        # would test only the refusals.
        r = subprocess.run(kept_cmds[0], env=kept_env, capture_output=True,
                           timeout=TIMEOUT_S)
        if r.returncode != 0 or b'"allocator_name"' not in r.stdout:
            print(f"the kept region does not read back: rc {r.returncode} "
                  f"{r.stderr[-300:]!r}")
            return 1
        t0 = time.time()
        for i in range(a.exited):
            data = mutate(rng, kept_base, 512)
            with open(kept, "wb") as f:
                f.write(data)
            check(kept_cmds[i % len(kept_cmds)], kept_env, a.keep,
                  f"exited-{i}", data, findings, codes)
        exited_s = time.time() - t0

        elf = os.path.join(work, "libtslab.so")
        subprocess.run(["objcopy", "--strip-debug",
                        f"{a.build}/lib/libtslab.so", elf], check=True)
        with open(elf, "rb") as f:
            elf_base = bytearray(f.read())
        mutant = os.path.join(work, "mutant.so")
        trace = f"{a.build}/bin/tslab-trace"
        t0 = time.time()
        regions = elf_regions(elf_base)
        for i in range(a.elfs):
            # In turn: the ELF and program headers, the USDT notes (their
            # strings and addresses), the section header table.
            start, size = regions[i % len(regions)]
            data = bytearray(elf_base)
            part = mutate(rng, elf_base[start:start + size], size)
            data[start:start + size] = part[:size].ljust(size, b"\0")
            with open(mutant, "wb") as f:
                f.write(data)
            check([trace, "--list", "--json", "--binary", mutant], os.environ,
                  a.keep, f"elf-{i}", data, findings, codes)
        elf_s = time.time() - t0
    finally:
        sleeper.kill()
        sleeper.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"regions: {a.regions} mutated files, 3 commands in turn, "
          f"{region_s:.0f} s; kept at exit: {a.exited}, {exited_s:.0f} s; "
          f"ELF files: {a.elfs}, {elf_s:.0f} s; seed {a.seed}")
    for tool, by_code in sorted(codes.items()):
        spread = ", ".join(f"rc {c}: {n}" for c, n in sorted(by_code.items()))
        print(f"{tool} exit statuses: {spread}")
    print(f"findings: {len(findings)}")
    for label, what, argv in findings[:20]:
        print(f"  {label}: {what} ({' '.join(argv)})")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

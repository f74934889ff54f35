#!/usr/bin/env python3
"""`make bench`: every row of issue 12's table, each as a ratio against its yardstick measured
in the same run, on the simulated kernel with release binaries. scripts/bench.sh builds what
this needs and calls it:

    bench.py --bin DIR --tools DIR --out DIR [--baseline FILE] [--bundles N] [--idle-seconds S]
             [--vm-report FILE]

--bin: the release binaries (unstripped; stripped copies are made for the size row).
--tools: nul-server, varlink-load and the yardstick programs, built by scripts/bench.sh.
--out: where results.json goes (and the previous one is kept as results.previous.json).
--baseline: results to compare with (default: the previous run in --out, else the committed
    scripts/bench/baseline.json); a row more than 20 % worse than there is flagged REGRESSION.
--vm-report: the real-kernel tier's report (Tests/VM/run.sh) for the rows measured in the VM.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = "6.1.0-bench"
GET_STATUS = '{"method":"io.livepatchd.GetStatus","parameters":{}}'
REGRESSION = 0.20


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(*command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs).stdout


# --- fixtures -----------------------------------------------------------------------------


class Fixtures:
    """Signed bundles named bench_0000 …, each patching a function of its own, made once per
    count and kept under --out: a template module's name is rewritten in place (same length),
    which takes milliseconds where gcc per module took a minute for 1000."""

    def __init__(self, bin_dir, out_dir):
        self.bin = bin_dir
        self.root = os.path.join(out_dir, "fixtures")
        self.keys = os.path.join(self.root, "keys")
        os.makedirs(self.root, exist_ok=True)
        if not os.path.exists(os.path.join(self.keys, "bench.pub")):
            os.makedirs(self.keys, exist_ok=True)
            run(f"{self.bin}/lpbundle", "keygen", "--name", "bench", "--out", self.keys)
        self.template = os.path.join(self.root, "template.ko")
        if not os.path.exists(self.template):
            run(f"{REPO}/scripts/make-test-module.sh", "--out", self.template, "--name", "bench_0000",
                "--release", RELEASE, "--functions", "vmlinux:bench_fn_0000")

    def bundles(self, count):
        """A directory holding `count` bundles (3 files each), made on first use."""
        directory = os.path.join(self.root, f"bundles-{count}")
        done = os.path.join(directory, ".complete")
        if os.path.exists(done):
            return directory
        shutil.rmtree(directory, ignore_errors=True)
        modules = os.path.join(self.root, "modules")
        os.makedirs(modules, exist_ok=True)
        os.makedirs(directory)
        template = open(self.template, "rb").read()
        log(f"making {count} signed bundles (kept for later runs in {directory})")
        for index in range(count):
            tag = f"{index:04d}".encode()
            module = os.path.join(modules, f"bench_{index:04d}.ko")
            with open(module, "wb") as file:
                file.write(template.replace(b"bench_0000", b"bench_" + tag).replace(b"bench_fn_0000", b"bench_fn_" + tag))
            run(f"{self.bin}/lpbundle", "create", module, "--key", os.path.join(self.keys, "bench.key"),
                "--version", "1", "--out", directory)
        open(done, "w").close()
        return directory


class Daemon:
    """livepatchd on the simulated kernel in a temporary directory."""

    def __init__(self, bin_dir, fixtures, apply="auto"):
        self.bin = bin_dir
        self.work = tempfile.mkdtemp(prefix="livepatchd-bench.")
        self.socket = os.path.join(self.work, "io.livepatchd")
        self.incoming = os.path.join(self.work, "incoming")
        os.makedirs(self.incoming)
        self.config = os.path.join(self.work, "livepatchd.toml")
        with open(self.config, "w") as file:
            file.write(f"""backend = "simulated"
simulated_root = "{self.work}/kernel"
simulated_kernel = "{RELEASE}"
patch_dir = "{self.incoming}"
state_dir = "{self.work}/state"
socket = "{self.socket}"
keys_dir = "{fixtures.keys}"
apply = "{apply}"
log_level = "warning"
""")
        self.env = dict(os.environ, LIVEPATCHD_LOG="stderr", LIVEPATCHD_SOCKET=self.socket)
        self.process = subprocess.Popen(
            [f"{self.bin}/livepatchd", "--config", self.config], env=self.env,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "daemon.log"), "w"))
        self.wait(lambda: os.path.exists(self.socket), 30, "the control socket")

    @property
    def pid(self):
        return self.process.pid

    def lpclient(self, *arguments):
        result = subprocess.run([f"{self.bin}/lpclient", *arguments], env=self.env, capture_output=True, text=True)
        return result.stdout

    def status(self):
        return json.loads(self.lpclient("status", "--json") or "{}")

    def counts(self):
        return self.status().get("counts", {})

    def check_alive(self):
        """A daemon that died must not read as one that is slow ("0 of 1000 applied after 600 s")."""
        if self.process.poll() is not None:
            raise SystemExit(f"bench: livepatchd exited ({self.process.returncode}); see {self.work}/daemon.log")

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            self.check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: no {what} within {timeout} s; the daemon says: {self.lpclient('status')}")
            time.sleep(0.05)

    def drop(self, bundles, names=None):
        """Moves bundle files into the patch directory, all at once (rename, same file system)."""
        staging = os.path.join(self.work, "staging")
        shutil.copytree(bundles, staging, ignore=shutil.ignore_patterns(".complete"))
        for name in sorted(os.listdir(staging)):
            if names is None or any(name.startswith(prefix) for prefix in names):
                os.rename(os.path.join(staging, name), os.path.join(self.incoming, name))
        shutil.rmtree(staging)

    def proc(self, name):
        with open(f"/proc/{self.pid}/{name}") as file:
            return file.read()

    def cpu_seconds(self):
        fields = self.proc("stat").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self):
        values = {}
        for line in self.proc("status").splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0]) * 1024
        return values

    def code_resident(self):
        """(resident, mapped) bytes of the daemon binary's executable mapping (its .text and what the
        linker put with it), from /proc/PID/smaps."""
        binary = os.path.realpath(f"{self.bin}/livepatchd")
        resident = mapped = 0
        current = None
        for line in self.proc("smaps").splitlines():
            fields = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                low, high = (int(part, 16) for part in fields[0].split("-"))
                current = "x" in fields[1] and len(fields) > 5 and fields[5] == binary
                mapped += high - low if current else 0
            elif current and fields[0] == "Rss:":
                resident += int(fields[1]) * 1024
        return resident, mapped

    def io_bytes(self):
        values = dict(line.split(": ") for line in self.proc("io").splitlines())
        return int(values["rchar"]) + int(values["wchar"])

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.work, ignore_errors=True)


def with_daemon(bin_dir, fixtures, patches, body, apply="auto"):
    daemon = Daemon(bin_dir, fixtures, apply=apply)
    try:
        if patches:
            daemon.drop(fixtures.bundles(patches))
            wanted = "applied" if apply == "auto" else "staged"
            def arrived():
                counts = daemon.counts()
                if counts.get("rejected"):
                    raise SystemExit(f"bench: bundles rejected; the daemon says: {daemon.lpclient('status')}")
                return counts.get(wanted) == patches
            daemon.wait(arrived, 120, f"{patches} patches {wanted}")
        return body(daemon)
    finally:
        daemon.stop()


def hyperfine(commands, runs, env, warmup=10):
    """Median seconds of each command, run by hyperfine without a shell."""
    with tempfile.NamedTemporaryFile(suffix=".json") as export:
        # Its advice about outliers is noise here (the numbers are medians); its errors are shown.
        result = subprocess.run(["hyperfine", "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
                                 "--export-json", export.name, *commands], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"bench: hyperfine failed:\n{result.stderr}")
        return [result["median"] for result in json.load(open(export.name))["results"]]


# --- the rows ---------------------------------------------------------------------------------


def row(key, what, value, yardstick, ratio, goal, met, limit=None, better="lower"):
    return {"key": key, "what": what, "value": value, "yardstick": yardstick, "ratio": ratio, "goal": goal,
            "met": met, "limit": limit, "better": better}


# Below this, a VM apply round's transition ended at the kernel's first try; a retry comes 0.75 s
# after it at the soonest.
FIRST_TRY_MS = 500


def status_limit(client, swift, split):
    """Where `lpclient status` spends its time in the guest above the minimal Swift program."""
    if not swift:
        return ("a static Swift binary's start under TCG (FACTS.md: 80-100 ms for a minimal one), then "
                "connect and GetStatus")
    text = f"a static Swift binary's start under TCG ({swift} ms for the minimal one in this boot), then {client - swift} ms more"
    if not split:
        return text + ": lpclient's own start and GetStatus"
    unreachable = int(split.group(1).split("/")[1])
    answer = float(split.group(2))
    # A C client's connect, call and close (when the tier measured it) is what any client pays
    # the daemon, best measured as lpclient meets it: one call after a pause; the rest of
    # lpclient's time is its own.
    if split.group(6):
        daemon = float(split.group(6).split("/")[1])
        how = (f"a C client's connect, GetStatus and close, one call placed as lpclient's, took {daemon:.0f} ms "
               f"(median; {float(split.group(4)):.1f} ms p50 in a closed loop, {answer:.1f} ms over an open connection)")
    elif split.group(4):
        daemon = float(split.group(4))
        how = f"a C client's connect, GetStatus and close took {daemon:.1f} ms (p50; over an open connection {answer:.1f} ms)"
    else:
        daemon = answer
        how = f"GetStatus over an open connection took {answer:.1f} ms (p50)"
    versus = f"{unreachable - swift} ms more than" if unreachable >= swift else f"{swift - unreachable} ms less than"
    return (text + f": lpclient with no daemon to reach took {unreachable} ms ({versus} the minimal program: its "
            f"start, its arguments, a refused connect, an error line); {how}; the remaining "
            f"{client - unreachable - daemon:.0f} ms are lpclient's own between its connect and its exit: sending "
            f"the call, waiting for the reply, reading and printing it")
def vm_rows(report):
    """The VM rows, from the real-kernel tier's report or output (Tests/VM/run.sh) when given."""
    text = open(report).read() if report and os.path.exists(report) else ""
    median = lambda spread: int(spread.split("/")[1])
    # Tiers before the yardstick went into the guest print no "static Swift JSON program".
    status = re.search(r"lpclient status min/median/max over \d+ rounds: (\d+/\d+/\d+) ms; /bin/true "
                       r"(\d+/\d+/\d+) ms; systemctl is-active (\d+/\d+/\d+) ms"
                       r"(?:; static Swift JSON program (\d+/\d+/\d+) ms)?", text)
    apply = re.search(r"apply latency min/median/max over (\d+) rounds: bare insmod until transition 0 "
                      r"(\d+/\d+/\d+) ms; lpclient apply until it returns \(applied\) (\d+/\d+/\d+) ms", text)
    split = re.search(r"lpclient status split: with no daemon to reach min/median/max (\d+/\d+/\d+) ms; GetStatus "
                      r"answered over an open connection p50/p99 ([\d.]+)/([\d.]+) ms[^;]*"
                      r"(?:; over a new connection each \(connect, call, close\) p50/p99 ([\d.]+)/([\d.]+) ms[^;]*)?"
                      r"(?:; one such call after the Swift program, as lpclient makes it, min/median/max (\d+/\d+/\d+) ms)?",
                      text)
    each = re.search(r"apply rounds each: bare ([\d ]+) ms; lpclient ([\d ]+) ms", text)
    inside = re.search(r"daemon applying→applied in those rounds \(journal\) min/median/max: (\d+/\d+/\d+) ms"
                       r"(?: \(each: ([\d ]+)\))?", text)
    cpu = re.search(r"daemon CPU time from the drop of lp_stall [^:]*: (\d+) ms", text)
    quiet = re.search(r"daemon CPU following the stalled transition with no client asking: (\d+) ms in (\d+) ms", text)
    tier = "measured by the real-kernel tier (Tests/VM/run.sh; pass its output with --vm-report)"
    rows = []
    swift = None
    if status:
        client, true, active = (median(group) for group in status.groups()[:3])
        swift = median(status.group(4)) if status.group(4) else None
        # Without the Swift program (an older tier's report), systemctl is-active stands in: the
        # issue measured the two about alike.
        ratio = client / (swift or active)
        yardstick = (f"static Swift JSON program {swift} ms, " if swift else "") + \
            f"systemctl is-active {active} ms, /bin/true {true} ms"
        rows.append(row("vm_status", "lpclient status in the Debian 6.1 VM (TCG, median of 7)", f"{client} ms",
                        yardstick, ratio, "<= 1.2x a minimal static Swift program", ratio <= 1.2,
                        limit=None if ratio <= 1.2 else status_limit(client, swift, split)))
    else:
        rows.append(row("vm_status", "lpclient status in the Debian 6.1 VM (TCG, median of 7)", tier,
                        "systemctl is-active, /bin/true, same boot", None, "<= 1.2x", None))
    if apply:
        rounds, bare, client = int(apply.group(1)), median(apply.group(2)), median(apply.group(3))
        value, modes = f"{client} ms", ""
        if each:
            # A round ends at the kernel's first try (every task switched at once: tens of ms) or
            # at a retry 0.75 to 1.75 s later, whichever path inserted the module; a median over a
            # mix of both compares the mix. Like with like: the rounds that waited for a retry.
            bares, clients = ([int(v) for v in group.split()] for group in each.groups())
            retry = lambda values: [v for v in values if v >= FIRST_TRY_MS]
            first = lambda values: [v for v in values if v < FIRST_TRY_MS]
            if retry(bares) and retry(clients):
                bare, client = statistics.median_low(retry(bares)), statistics.median_low(retry(clients))
                value = f"{client} ms in the rounds that waited for a kernel retry"
                modes = (f"; rounds that waited for a retry: bare {len(retry(bares))} of {len(bares)}, lpclient "
                         f"{len(retry(clients))} of {len(clients)}; ended at the first try: bare "
                         f"{' '.join(map(str, first(bares))) or 'none'}, lpclient {' '.join(map(str, first(clients))) or 'none'} "
                         f"ms; the bare rounds that waited spread over {max(retry(bares)) - min(retry(bares))} ms, as "
                         f"the retry falls anywhere in a window of a second, so a median of 7 moves between boots by "
                         f"more than the 5 % the goal allows")
        ratio = client / bare
        start = f"{swift} ms for a minimal static Swift program in this boot" if swift else \
            "80-100 ms for a minimal static Swift program (FACTS.md)"
        daemon = median(inside.group(1)) if inside else None
        if inside and inside.group(2) and each and modes:
            daemon = statistics.median_low([int(v) for v in inside.group(2).split() if int(v) >= FIRST_TRY_MS] or [daemon])
        # The journal's applying (just before the insert) to applied: what of lpclient's time the
        # daemon spent with the kernel; the rest is lpclient's start, verification and the reply.
        split = f"; of lpclient's {client} ms, the daemon's insert to applied took {daemon} ms (journal), " \
            f"the other {client - daemon} ms are lpclient's start, the checks before the insert and the reply" \
            if daemon else ""
        rows.append(row("vm_apply", f"lpclient apply to applied in the VM (median of {rounds})", value,
                        f"bare insmod + transition poll {bare} ms", ratio, "<= 1.05x", ratio <= 1.05,
                        limit=None if ratio <= 1.05 else
                        "the kernel ends a transition its first try left open at its next retry, on a whole second "
                        "(round_jiffies_relative(HZ)), so each round of either path waits 0-1 s after its insert "
                        f"(bare {apply.group(2)}, lpclient {apply.group(3)} ms min/median/max{modes}){split}; 5 % of the "
                        f"bare path is {bare * 0.05:.0f} ms, about what a Swift client takes to start under TCG "
                        f"({start})"))
    else:
        rows.append(row("vm_apply", "lpclient apply to applied in the VM", tier,
                        "bare insmod + transition poll, same boot", None, "<= 1.05x", None))
    if quiet:
        # The daemon's own cost while it follows the transition; the total from the drop on also
        # pays for lpclient polling `show --json` every 20 ms or so (each call reads sysfs).
        ms, wall = int(quiet.group(1)), int(quiet.group(2))
        total = f"; {cpu.group(1)} ms from the drop to failed, with lpclient polling" if cpu else ""
        rows.append(row("vm_stall_cpu", "daemon CPU following a stalled transition in the VM (no client asking)",
                        f"{ms} ms in {wall} ms{total}", f"{wall} ms of one CPU", ms / wall, "<= 5 %", ms / wall <= 0.05,
                        limit=None if ms / wall <= 0.05 else "the sysfs ticks (50 ms apart for 2 s, then 250 ms) "
                        "and the blocking-task samples (every 5 s, a /proc walk every 10 s): on the host over a fake "
                        "sysfs, 8 s of following cost 25 ms of ticks, 18 ms of samples and 3 ms of kernel reads at the "
                        "old pace (1 s samples, 50 ms ticks); TCG multiplies each by 10-20"))
    elif cpu:
        ms = int(cpu.group(1))
        rows.append(row("vm_stall_cpu", "daemon CPU during an 8 s stalled transition in the VM", f"{ms} ms",
                        "8 s of one CPU", ms / 8000, "<= 5 %", ms / 8000 <= 0.05,
                        limit=None if ms / 8000 <= 0.05 else "an older tier's report: the whole window, lpclient polling included"))
    else:
        rows.append(row("vm_stall_cpu", "daemon CPU during an 8 s stalled transition in the VM", tier,
                        "8 s of one CPU", None, "<= 5 %", None))
    return rows


def status_on_host(bin_dir, tools, fixtures):
    def measure(daemon):
        lpclient, json_yardstick, stdlib_yardstick, true = hyperfine(
            [f"{bin_dir}/lpclient status", f"{tools}/yardstick-json", f"{tools}/yardstick-stdlib", "/bin/true"],
            runs=200, env=daemon.env)
        ratio = lpclient / json_yardstick
        return row("host_status", "lpclient status on the host, 20 patches (median of 200)",
                   f"{lpclient * 1e3:.2f} ms", f"static Swift JSON program {json_yardstick * 1e3:.2f} ms "
                   f"(stdlib only {stdlib_yardstick * 1e3:.2f} ms, /bin/true {true * 1e3:.2f} ms)",
                   ratio, "<= 1.5x", ratio <= 1.5,
                   limit=None if ratio <= 1.5 else
                   f"{(lpclient - json_yardstick) * 1e3:.2f} ms above the yardstick. lpclient against a C server "
                   "sending the same reply took 4.5-4.9 ms (yardstick 3.4-3.5 ms, daemon 5.8-5.9 ms, one run, "
                   "2026-12-04): about half is lpclient's own start, half the daemon's per-connection work, "
                   "265 us of CPU per new connection against 15 us per call on an open one (accept thread, "
                   "AsyncStream, NIO set-up, a serve task and its call task; perf: thread wake-ups dominate), "
                   "first reply 230-255 us after connect against 30-57 us from the C server")
    return with_daemon(bin_dir, fixtures, 20, measure)


def varlink_rows(bin_dir, tools, fixtures, seconds=5):
    def measure(daemon):
        # The C server sends exactly the daemon's reply, so both move the same bytes.
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(daemon.socket)
            client.sendall(GET_STATUS.encode() + b"\0")
            reply = b""
            while not reply.endswith(b"\0"):
                reply += client.recv(65536)
        reply_file = os.path.join(daemon.work, "reply.json")
        open(reply_file, "wb").write(reply[:-1])
        c_socket = os.path.join(daemon.work, "nul-server.sock")
        server = subprocess.Popen([f"{tools}/nul-server", c_socket, reply_file])
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(c_socket) and time.monotonic() < deadline:
                time.sleep(0.01)
            results = {}
            for connections in (64, 1):
                for name, path in (("c", c_socket), ("daemon", daemon.socket)):
                    out = run(f"{tools}/varlink-load", path, str(connections), str(seconds), GET_STATUS)
                    results[(name, connections)] = json.loads(out)
                    if results[(name, connections)]["first_reply_is_error"]:
                        raise SystemExit(f"bench: GetStatus answered with an error: {reply[:200]!r}")
        finally:
            server.kill()
            server.wait()
        daemon64, c64 = results[("daemon", 64)], results[("c", 64)]
        daemon1, c1 = results[("daemon", 1)], results[("c", 1)]
        share64 = daemon64["rps"] / c64["rps"]
        share1 = daemon1["rps"] / c1["rps"]
        met64 = share64 >= 0.30 and daemon64["p99_ms"] <= 5
        return [
            row("varlink_64", "Varlink GetStatus, 64 closed-loop connections",
                f"{daemon64['rps'] / 1e3:.1f} k req/s, p99 {daemon64['p99_ms']:.2f} ms",
                f"C NUL server {c64['rps'] / 1e3:.1f} k req/s, p99 {c64['p99_ms']:.2f} ms", share64,
                ">= 0.30x, p99 <= 5 ms", met64, better="higher",
                limit=None if met64 else "GetStatus is answered on the event loop from the reply last sent while "
                "it is fresh (no engine event, under 1 s old); once a second, and after every event, a call takes "
                "the call loop (a task, actor hops, the engine) and the loops' threads compete with the load "
                "generator for the 2 cores"),
            row("varlink_1", "Varlink GetStatus, 1 connection",
                f"{daemon1['rps'] / 1e3:.1f} k req/s, p99 {daemon1['p99_ms']:.2f} ms",
                f"C NUL server {c1['rps'] / 1e3:.1f} k req/s", share1, ">= 0.50x", share1 >= 0.5, better="higher",
                limit=None if share1 >= 0.5 else "latency of one call: answered on the event loop from the "
                "reply last sent, the rest is the event loop's own wake-up per message (epoll, eventfd)"),
        ]
    return with_daemon(bin_dir, fixtures, 20, measure)


def thousand_bundles(bin_dir, fixtures, count):
    bundles = fixtures.bundles(count)
    floor = count * 0.05  # the simulated kernel's 50 ms per transition, one at a time
    rows = []

    def measure(daemon):
        # The history keeps the last 1000 changes only: the applied count is sampled instead.
        started = time.monotonic()
        daemon.drop(bundles)
        samples = []
        deadline = started + max(600, floor * 10)
        while not samples or samples[-1][1] < count:
            daemon.check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {samples[-1][1] if samples else 0} of {count} applied after "
                                 f"{deadline - started:.0f} s")
            samples.append((time.monotonic() - started, daemon.counts().get("applied", 0)))
            time.sleep(0.1)
        took = samples[-1][0]
        at = lambda share: next(seconds for seconds, applied in samples if applied >= share * count)
        quarter = count / 4
        first = (at(0.25) - at(1 / count)) / quarter
        last = (at(1.0) - at(0.75)) / quarter
        ratio = took / floor
        growth = last / first if first > 0 else float("inf")
        met = ratio <= 1.3 and growth <= 1.2
        rows.append(row(
            "bundles_applied", f"{count} bundles dropped at once (simulated kernel, 50 ms per transition)",
            f"{took:.1f} s to all applied; per apply {first * 1e3:.0f} ms in the first quarter, "
            f"{last * 1e3:.0f} ms in the last ({growth:.2f}x)", f"floor {floor:.0f} s", ratio,
            "<= 1.3x, time per apply flat", met,
            limit=None if met else "time per apply flat within 1.2x is the state saved as changes; what is left "
            "above the 50 ms transitions is CPU between them (perf on the daemon for 20 s of one such run, 2026-12-04): "
            "43 % the simulated kernel, whose every call stats its 1000 module files and rebuilds its state; "
            "32 % the machine's passes over every record per event (observe 12 %, records copied for "
            "name-ordered passes 10 %, rollout checks 7 %, orderings 6 %)"))
        # The same daemon, now holding `count` patches, for the list row.
        list_json, list_text = hyperfine([f"{bin_dir}/lpclient list --json", f"{bin_dir}/lpclient list"],
                                         runs=20, env=daemon.env, warmup=2)
        rows.append(row(
            "list_json", f"lpclient list --json with {count} patches", f"{list_json * 1e3:.0f} ms",
            f"50 ms (list: {list_text * 1e3:.0f} ms)", list_json / 0.050, "<= 50 ms", list_json <= 0.050,
            limit=None if list_json <= 0.050 else "the reply is sent as encoded before while the list is the "
            "same, but the list is computed on every call: the simulated kernel reads its 1000 module files "
            "for their objects, the engine builds 1000 Patch values and compares them with the last; lpclient "
            "parses and writes the 365 KB again to print it with sorted keys"))
    with_daemon(bin_dir, fixtures, 0, measure)
    return rows


def idle_and_rescan(bin_dir, fixtures, idle_seconds):
    rows = []

    def measure(daemon):
        time.sleep(2)  # whatever followed the applies has settled
        cpu_before = daemon.cpu_seconds()
        time.sleep(idle_seconds)
        cpu = daemon.cpu_seconds() - cpu_before
        memory = daemon.memory()
        code, code_mapped = daemon.code_resident()
        rss = memory["VmRSS"]
        binary = os.path.getsize(f"{bin_dir}/livepatchd")
        met = rss <= 15e6 and cpu <= 0.03 * idle_seconds / 30
        rows.append(row(
            "idle", "idle daemon with 20 patches",
            f"RSS {rss / 1e6:.1f} MB ({memory.get('RssFile', 0) / 1e6:.1f} MB of it the mapped "
            f"{binary / 1e6:.0f} MB binary), {cpu * 1e3:.0f} ms CPU in {idle_seconds} s",
            "15 MB", rss / 15e6, "RSS <= 15 MB, ~0 CPU idle", met,
            limit=None if met else f"{memory.get('RssFile', 0) / 1e6:.1f} MB of file-backed pages, "
            f"{code / 1e6:.1f} of them the binary's {code_mapped / 1e6:.1f} MB of code: code run once at start-up "
            "(configuration, keys, state, NIO) and what the kernel maps around each fault (fault-around, 64 KB); "
            "clean page-cache pages, shared, which the kernel takes back under memory pressure without writing. "
            f"{memory.get('RssAnon', 0) / 1e6:.1f} MB anonymous (heaps, thread stacks, relocated data)"))

        # A rejected 48 MiB module, then five unrelated files created in the patch directory.
        big = os.path.join(daemon.work, "big")
        os.makedirs(big)
        run(f"{REPO}/scripts/make-test-module.sh", "--out", f"{big}/big_reject.ko", "--name", "big_reject",
            "--release", RELEASE, "--functions", "vmlinux:big_fn")
        run(f"{bin_dir}/lpbundle", "create", f"{big}/big_reject.ko", "--key", os.path.join(fixtures.keys, "bench.key"),
            "--version", "1", "--out", f"{big}/bundle")
        # Grown after signing: its sha256 no longer matches, so it is rejected once read in full.
        os.truncate(f"{big}/bundle/big_reject.ko", 48 * 1024 * 1024)
        for name in sorted(os.listdir(f"{big}/bundle")):
            os.rename(f"{big}/bundle/{name}", os.path.join(daemon.incoming, name))
        daemon.wait(lambda: daemon.counts().get("rejected") == 1, 120, "the 48 MiB module rejected")
        time.sleep(1)
        before = daemon.io_bytes()
        for index in range(5):
            open(os.path.join(daemon.incoming, f"unrelated_{index}.txt"), "w").write("not a bundle\n")
        time.sleep(3)
        moved = (daemon.io_bytes() - before) / (1024 * 1024)
        rows.append(row(
            "rejected_rescan", "a rejected 48 MiB module in the patch directory, 5 unrelated files created",
            f"{moved:.0f} MiB read and written", "20 MiB", moved / 20, "< 20 MiB", moved < 20,
            limit=None if moved < 20 else "every directory rescan copies and re-hashes every rejected module, "
            "48 MiB each time; 5 files make one rescan or two, as inotify batches them, so 48 or 96 MiB "
            "(scanner re-read avoidance: not done yet)"))
    with_daemon(bin_dir, fixtures, 20, measure)
    return rows


def sizes(bin_dir, tools, out_dir):
    stripped = os.path.join(out_dir, "stripped")
    os.makedirs(stripped, exist_ok=True)
    size = {}
    for name, path in [("livepatchd", f"{bin_dir}/livepatchd"), ("lpclient", f"{bin_dir}/lpclient"),
                       ("lpbundle", f"{bin_dir}/lpbundle"), ("yardstick-json", f"{tools}/yardstick-json"),
                       ("yardstick-stdlib", f"{tools}/yardstick-stdlib")]:
        target = os.path.join(stripped, name)
        shutil.copyfile(path, target)
        run("strip", target)
        size[name] = os.path.getsize(target)
    mb = lambda name: f"{size[name] / 1e6:.1f} MB"
    yardstick = f"static Swift: stdlib only {mb('yardstick-stdlib')}, FoundationEssentials + JSONEncoder " \
                f"{mb('yardstick-json')}"
    rows = []
    for name, goal in (("lpclient", 16e6), ("lpbundle", 25e6), ("livepatchd", None)):
        met = None if goal is None else size[name] <= goal
        rows.append(row(
            f"size_{name}", f"release binary, stripped: {name}", mb(name), yardstick,
            size[name] / size["yardstick-json"], f"<= {goal / 1e6:.0f} MB" if goal else "as small as its libraries allow",
            met, limit=None if met in (True, None) else "see the weights below: the libraries it links"))
    return rows


# --- report -----------------------------------------------------------------------------------


def compare(rows, baseline):
    old = {item["key"]: item for item in baseline.get("rows", [])}
    for item in rows:
        before = old.get(item["key"])
        if not before or item["ratio"] is None or before.get("ratio") in (None, 0):
            continue
        change = item["ratio"] / before["ratio"]
        worse = change > 1 + REGRESSION if item["better"] == "lower" else change < 1 - REGRESSION
        item["previous_ratio"] = before["ratio"]
        item["regression"] = worse


def print_table(rows):
    print()
    print("| what | livepatchd | yardstick in the same run | ratio | goal | met |")
    print("|---|---|---|---|---|---|")
    for item in rows:
        ratio = "" if item["ratio"] is None else f"{item['ratio']:.2f}x"
        if "previous_ratio" in item:
            ratio += f" (was {item['previous_ratio']:.2f}x{', REGRESSION' if item['regression'] else ''})"
        met = {True: "yes", False: "no", None: "-"}[item["met"]]
        print(f"| {item['what']} | {item['value']} | {item['yardstick']} | {ratio} | {item['goal']} | {met} |")
    unmet = [item for item in rows if item["met"] is False]
    if unmet:
        print("\nGoals not met, and what limits them:")
        for item in unmet:
            print(f"- {item['what']}: {item['limit']}")
    regressions = [item for item in rows if item.get("regression")]
    if regressions:
        print(f"\nREGRESSION (more than {REGRESSION:.0%} worse than the baseline): "
              + ", ".join(item["key"] for item in regressions))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--tools", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--baseline")
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=int, default=30)
    parser.add_argument("--vm-report")
    parser.add_argument("--only", help="comma-separated: status,varlink,bundles,idle,sizes,vm")
    args = parser.parse_args()
    # The daemon's config reads paths relative to the config file: every path is made absolute.
    args.bin, args.tools, args.out = (os.path.abspath(path) for path in (args.bin, args.tools, args.out))
    os.makedirs(args.out, exist_ok=True)
    fixtures = Fixtures(args.bin, args.out)
    only = set(args.only.split(",")) if args.only else {"vm", "status", "varlink", "bundles", "idle", "sizes"}

    rows = []
    if "vm" in only:
        rows += vm_rows(args.vm_report)
    if "status" in only:
        log("lpclient status against the yardsticks (hyperfine)")
        rows.append(status_on_host(args.bin, args.tools, fixtures))
    if "varlink" in only:
        log("Varlink GetStatus: the daemon and the C server, 64 connections and 1")
        rows += varlink_rows(args.bin, args.tools, fixtures)
    if "bundles" in only:
        log(f"{args.bundles} bundles dropped at once, then lpclient list")
        rows += thousand_bundles(args.bin, fixtures, args.bundles)
    if "idle" in only:
        log(f"an idle daemon for {args.idle_seconds} s, then a rejected 48 MiB module")
        rows += idle_and_rescan(args.bin, fixtures, args.idle_seconds)
    if "sizes" in only:
        rows += sizes(args.bin, args.tools, args.out)

    results = os.path.join(args.out, "results.json")
    baseline_path = args.baseline or (results if os.path.exists(results) else
                                      os.path.join(REPO, "scripts", "bench", "baseline.json"))
    if os.path.exists(baseline_path):
        compare(rows, json.load(open(baseline_path)))
        log(f"compared with {baseline_path}")
    if os.path.exists(results):
        shutil.copyfile(results, os.path.join(args.out, "results.previous.json"))
    with open(results, "w") as file:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "commit": run("git", "-C", REPO, "rev-parse", "--short", "HEAD").strip(),
                   "binaries": args.bin,
                   "rows": rows}, file, indent=1)
    print_table(rows)
    print(f"\nresults: {results}")


if __name__ == "__main__":
    main()

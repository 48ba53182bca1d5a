"""`make run`: the whole system as it stands, on loopback, with no cluster.

Starts the local Kubernetes API server loaded with the demo objects in
run/demo/, writes a kubeconfig for it, then starts every component whose
binary exists, each described by a file in run/components/ (NN-name.py, run in
name order). A component file defines

    def entries(ctx) -> list of dicts:
        name      short name shown in the summary
        argv      the command line
        env       extra environment (optional)
        ready     URL that answers 200 once the daemon is ready (optional)
        show      {label: value} lines printed in the summary (optional)
        setup     a callable run before the daemon starts (optional)

and returns [] when its binary is not built. ctx (class Ctx below) gives
paths, ports (shifted by CMESH_RUN_PORT_OFFSET so a test can run beside a
newcomer's session) and helpers. The composer prints every address and the
kubeconfig path, then waits for Ctrl-C (or --for SECONDS), and stops all it
started, in reverse order.
"""
import argparse
import importlib.util
import glob
import os
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PYTHON = "/usr/bin/python3"


class Ctx:
    def __init__(self, bin_dir, gen_dir, state, offset):
        self.root = ROOT
        self.bin_dir = os.path.abspath(bin_dir)
        self.gen_dir = os.path.abspath(gen_dir)
        self.state = os.path.abspath(state)
        self.offset = offset
        self.kubeconfig = os.path.join(self.state, "kubeconfig")
        self.api_url = None
        self.certs = os.path.join(self.state, "certs")
        self.namespace = "cmesh"
        self.trust_domain = "cluster.local"

    def port(self, p):
        """A well-known port shifted by the run's offset. Keep offset + port
        below 32768 (Linux's ephemeral range starts there) so an outgoing
        connection never holds the port we want to listen on."""
        return p + self.offset

    def addr(self, p):
        return "127.0.0.1:%d" % self.port(p)

    def bin(self, name):
        return os.path.join(self.bin_dir, name)

    def has_bin(self, name):
        return os.access(self.bin(name), os.X_OK)

    def path(self, *parts):
        return os.path.join(self.state, *parts)


def log(msg):
    print("make run: " + msg, flush=True)


def http_ok(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - not up yet
        return False


def wait_ready(name, url, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        if http_ok(url):
            return True
        time.sleep(0.1)
    return False


def load_components():
    mods = []
    for f in sorted(glob.glob(os.path.join(ROOT, "run", "components", "*.py"))):
        spec = importlib.util.spec_from_file_location("cmesh_run_" + os.path.basename(f)[:-3], f)
        m = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(m)
        mods.append(m)
    return mods


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--gen", default=os.path.join(ROOT, "build", "gen"))
    ap.add_argument("--state", default=os.environ.get("CMESH_RUN_STATE",
                                                      os.path.join(ROOT, "build", "run")))
    ap.add_argument("--for", dest="duration", type=float,
                    default=float(os.environ.get("CMESH_RUN_FOR", "0")),
                    help="stop after this many seconds (0: until Ctrl-C)")
    args = ap.parse_args()

    offset = int(os.environ.get("CMESH_RUN_PORT_OFFSET", "0"))
    ctx = Ctx(args.bin, args.gen, args.state, offset)
    os.makedirs(ctx.path("logs"), exist_ok=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))

    procs = []  # (name, Popen, logfile)
    summary = []
    ok = True

    def start(e):
        lf = open(ctx.path("logs", e["name"] + ".log"), "ab")
        env = dict(os.environ)
        env.update(e.get("env", {}))
        p = subprocess.Popen(e["argv"], stdout=lf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                             start_new_session=True)
        procs.append((e["name"], p, lf))
        return p

    try:
        for mod in load_components():
            for e in mod.entries(ctx):
                if stopping:
                    break
                if e.get("setup"):
                    e["setup"]()
                p = start(e)
                ready = e.get("ready")
                if ready:
                    if not wait_ready(e["name"], ready, p, e.get("timeout", 30)):
                        log("%s did not become ready; its log: %s"
                            % (e["name"], ctx.path("logs", e["name"] + ".log")))
                        ok = False
                        raise SystemExit(1)
                summary.append(e)
        if not stopping:
            print("", flush=True)
            log("running (logs in %s)" % ctx.path("logs"))
            for e in summary:
                print("  %-12s pid %-7d %s" % (e["name"], [p for n, p, _ in procs if n == e["name"]][0].pid,
                                              e.get("ready", "")))
                for k, v in e.get("show", {}).items():
                    print("  %-12s %-11s %s" % ("", k, v))
            print("", flush=True)
            print("  kubectl:   KUBECONFIG=%s %s get pods -A" % (ctx.kubeconfig,
                  os.path.join(ROOT, ".tools", "bin", "kubectl")))
            print("", flush=True)
            log("all ready; Ctrl-C stops everything")
        t0 = time.time()
        while not stopping:
            if args.duration and time.time() - t0 >= args.duration:
                break
            for name, p, _ in procs:
                if p.poll() is not None:
                    log("%s exited with %s; stopping" % (name, p.returncode))
                    ok = False
                    stopping.append(1)
                    break
            time.sleep(0.2)
    finally:
        for name, p, lf in reversed(procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, p, lf in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            lf.close()
        log("stopped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

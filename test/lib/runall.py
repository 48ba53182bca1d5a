"""Runs every test of the tree and prints one closing line: 'N passed, N failed'.

Unit tests are the Check runners in BUILD/test/; integration tests are the
Python files test/**/*_test.py (unittest, run with Debian's /usr/bin/python3 so
python3-grpcio is importable) and the shell scripts test/**/*_test.sh (one
test each; exit 0 is a pass). Counts come from each runner's own summary.
"""
import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TIMEOUT = int(os.environ.get("CMESH_TEST_TIMEOUT", "900"))


def run(cmd, env):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
        out, rc = p.stdout.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") + "\n[timed out after %ds]\n" % TIMEOUT
        rc = -1
    return out, rc, time.time() - t0


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/asan"))
    which = sys.argv[2] if len(sys.argv) > 2 else "all"
    only = os.environ.get("CMESH_TEST_ONLY")  # substring filter on file names
    env = dict(os.environ)
    env["CMESH_BUILD"] = build
    env["CMESH_BIN"] = os.path.join(build, "bin")
    env["CMESH_ROOT"] = ROOT
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(build, "gen", "py"),
                                         os.path.join(ROOT, "test", "lib"),
                                         os.path.join(ROOT, "apiserver")])
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    passed = failed = 0
    failures = []

    if which in ("all", "unit"):
        for r in sorted(glob.glob(os.path.join(build, "test", "*"))):
            if not os.access(r, os.X_OK) or (only and only not in r):
                continue
            out, rc, dt = run([r], env)
            m = re.search(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)", out)
            sys.stdout.write(out)
            if m:
                n, f = int(m.group(2)), int(m.group(3)) + int(m.group(4))
                passed += n - f
                failed += f
                if f or rc:
                    failures.append(os.path.basename(r))
                if rc and not f:
                    failed += 1
            else:
                failed += 1
                failures.append(os.path.basename(r))
            print("== %s: rc=%d in %.1fs" % (os.path.basename(r), rc, dt), flush=True)

    if which in ("all", "integration"):
        py = sorted(glob.glob(os.path.join(ROOT, "test", "**", "*_test.py"), recursive=True))
        sh = sorted(glob.glob(os.path.join(ROOT, "test", "**", "*_test.sh"), recursive=True))
        for f in py:
            if only and only not in f:
                continue
            # discover with the file's own folder as top level: `-m unittest
            # path/x_test.py` would import it as test.x..., and Python's own
            # `test` package would shadow ours.
            d, base = os.path.split(f)
            out, rc, dt = run(["/usr/bin/python3", "-m", "unittest", "discover", "-v",
                               "-s", d, "-t", d, "-p", base], env)
            sys.stdout.write(out)
            m = re.search(r"^Ran (\d+) tests?", out, re.M)
            n = int(m.group(1)) if m else 0
            fm = re.search(r"FAILED \(([^)]*)\)", out)
            f_n = 0
            if fm:
                for part in fm.group(1).split(","):
                    k, _, v = part.strip().partition("=")
                    if k in ("failures", "errors"):
                        f_n += int(v)
            if rc != 0 and f_n == 0:
                f_n = 1
            if n == 0 and rc == 0:
                # A file that ran nothing is a failure, not a pass.
                f_n = 1
            passed += max(n - f_n, 0)
            failed += f_n
            if f_n:
                failures.append(os.path.relpath(f, ROOT))
            print("== %s: rc=%d in %.1fs" % (os.path.relpath(f, ROOT), rc, dt), flush=True)
        for f in sh:
            if only and only not in f:
                continue
            out, rc, dt = run(["bash", f], env)
            sys.stdout.write(out)
            if rc == 0:
                passed += 1
            else:
                failed += 1
                failures.append(os.path.relpath(f, ROOT))
            print("== %s: rc=%d in %.1fs" % (os.path.relpath(f, ROOT), rc, dt), flush=True)

    if failures:
        print("failed: " + ", ".join(failures))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

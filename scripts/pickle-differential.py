#!/usr/bin/python3
"""Differential check of the pickle analyser against CPython's own unpickler.

Mutates seed pickles at random, loads each mutant with CPython's unpickler (the Python implementation, which exposes the protocol for name remapping)
whose find_class records the (remapped) global and returns an inert stub
instead of importing anything, and checks that every global CPython resolved
before it stopped is either on modelverify's allowlist or reported by
`modelverify scan --format json`. Nothing is imported or executed: the stub
accepts any call and attribute access and does nothing.

usage: scripts/pickle-differential.py BINARY N SEED_FILES...
(the environment variable SEED picks another random sequence; default 1)
"""
import _compat_pickle
import io
import json
import os
import pickle
import random
import subprocess
import sys
import tempfile


class Stub:
    def __init__(self, *a, **k): pass
    def __call__(self, *a, **k): return Stub()
    def __getattr__(self, n): return Stub()
    def __setstate__(self, s): pass
    def __reduce__(self): return (Stub, ())
    def __setitem__(self, k, v): pass
    def append(self, x): pass
    def extend(self, x): pass
    def add(self, x): pass
    def __new__(cls, *a, **k): return object.__new__(cls)


class Recorder(pickle._Unpickler):  # the Python implementation exposes the protocol
    def __init__(self, f):
        super().__init__(f)
        self.seen = []

    def find_class(self, module, name):
        if self.proto < 3:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        self.seen.append(module + "." + name)
        return Stub

    def persistent_load(self, pid):
        return Stub()


def resolved(data):
    seen = []
    f = io.BytesIO(data)
    while f.tell() < len(data):
        u = Recorder(f)
        try:
            u.load()
        except Exception:
            seen += u.seen
            break
        seen += u.seen
    return seen


SKLEARN_DENY = ("sklearn.datasets", "sklearn.externals", "sklearn.utils._testing",
                "sklearn.utils._show_versions", "sklearn.utils.fixes")


def sklearn_class(g):
    """The allowlist's scikit-learn rule (sklearnClass in lists.go)."""
    module, _, name = g.rpartition(".")
    if not (module == "sklearn" or module.startswith("sklearn.")):
        return False
    if any(module == d or module.startswith(d + ".") for d in SKLEARN_DENY):
        return False
    cls = name.removeprefix("__pyx_unpickle_").lstrip("_")
    return cls[:1].isupper()


def torch_module_class(g):
    """The allowlist's PyTorch layer rule (torchModuleClass in lists.go)."""
    module, _, name = g.rpartition(".")
    if not (module == "torch.nn.modules" or module.startswith("torch.nn.modules.")):
        return False
    return name[:1].isupper() and name.isidentifier()


def mutate(data, rnd):
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randint(0, 3)
        i = rnd.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(i, len(b) - 1)] = rnd.randrange(256)
        elif op == 1:
            b[i:i] = bytes([rnd.choice(b"()0123NRbcehpqsu\x85\x86\x87\x93\x94")])
        elif op == 2 and b:
            del b[min(i, len(b) - 1)]
        else:
            j = rnd.randrange(len(b) + 1)
            b[i:i] = b[min(i, j):max(i, j)][:32]
    return bytes(b)


def main():
    binary, n, seeds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    rnd = random.Random(int(os.environ.get("SEED", "1")))
    datas = [open(s, "rb").read() for s in seeds]
    misses = checked = closed = 0
    with tempfile.TemporaryDirectory() as d:
        for k in range(n):
            data = mutate(rnd.choice(datas), rnd)
            try:
                seen = resolved(data)
            except RecursionError:
                continue
            if not seen:
                continue
            checked += 1
            p = os.path.join(d, "m.pkl")
            open(p, "wb").write(data)
            out = subprocess.run([binary, "scan", "--format", "json", "--fail-on", "none", p],
                                 capture_output=True, text=True)
            rep = json.loads(out.stdout)
            reported = {f.get("symbol", "") for t in rep["targets"] for f in t["findings"]}
            for g in seen:
                if not all(part.isidentifier() for part in g.split(".")):
                    continue  # __import__ of such a name fails: nothing resolves
                if g in BYTES_LOADERS:
                    continue  # judged by the literal it loads, which was scanned
                if g in reported or g in ALLOWED or sklearn_class(g) or torch_module_class(g):
                    continue
                if rep["targets"][0]["verdict"] == "malformed":
                    closed += 1  # not reported, but the scan failed closed (exit 2)
                    break
                misses += 1
                open(os.path.join("/tmp/diff", f"miss{k}.pkl"), "wb").write(data)
                print("MISS", k, g, sorted(reported)[:5])
                break
    print(f"{n} mutants, {checked} resolved globals in CPython, {misses} missed with a clean verdict, {closed} unreported but failed closed (malformed)")


BYTES_LOADERS = {"torch.storage._load_from_bytes"}


def load_allowlist():
    """The allowed module/name pairs, from the generated docs/scanner-lists.md."""
    here = os.path.dirname(os.path.abspath(__file__))
    out, section = set(), None
    for line in open(os.path.join(here, "..", "docs", "scanner-lists.md")):
        if line.startswith("## "):
            section = line.strip()
        if section == "## Allowed" and line.startswith("| `"):
            cells = [c.strip() for c in line.split("|")[1:3]]
            module = cells[0].strip("`")
            for name in cells[1].split(","):
                out.add(module + "." + name.strip().strip("`"))
    return out


ALLOWED = load_allowlist()
if __name__ == "__main__":
    main()

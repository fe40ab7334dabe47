#!/usr/bin/python3
"""Differential check of the zip readers against the real torch.load and np.load.

Rebuilds real torch.save and np.savez files with their zip structures mutated
(several end records, comment lengths that do not fit, zip64 locators with and
without an adjacent record, prepended data, duplicate names, central directory
entries that disagree with local headers, hidden local headers, data
descriptors, zip64 extra fields, deflated members, local extra fields and sizes
that differ from the central directory). Each candidate
member that some reader might hand to its loader holds a different pickle whose
only global is a distinct dangerous callable. The real loader runs with an
unpickler whose find_class records the global and returns an inert stub, so
nothing is imported or executed. Every global a loader resolved must appear in
`modelverify scan --format json` for that file; one that does not is a miss.

usage: scripts/zip-differential.py BINARY [OUTDIR]
With OUTDIR, every mutant is written there as <seed>-<mutant>.<ext>, and
loaded.json maps each file to the dangerous globals its loader resolved (the
committed fixtures under fixtures/zip/ are made this way; tests read them).
"""
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile

GLOBALS = [("os", "system"), ("posix", "system"), ("subprocess", "Popen"),
           ("subprocess", "call"), ("subprocess", "check_output"), ("builtins", "eval"),
           ("builtins", "exec"), ("runpy", "_run_code"), ("pty", "spawn"),
           ("subprocess", "run"), ("os", "popen"), ("builtins", "__import__"),
           ("subprocess", "getoutput"), ("subprocess", "getstatusoutput"), ("os", "execv"),
           ("os", "spawnv"), ("posix", "popen")]
RESOLVED = []


class Stub:
    def __init__(self, *a, **k): pass
    def __call__(self, *a, **k): return Stub()
    def __getattr__(self, n): return Stub()
    def __setstate__(self, s): pass
    def __reduce__(self): return (Stub, ())


class Unpickler(pickle._Unpickler):
    def find_class(self, module, name):
        RESOLVED.append(module + "." + name)
        return Stub

    def persistent_load(self, pid):
        return Stub()


class RecordingPickle:
    """A pickle module for torch.load and numpy.lib.format."""
    Unpickler = Unpickler
    UnpicklingError = pickle.UnpicklingError

    @staticmethod
    def load(f, **kw):
        return Unpickler(f, **{k: v for k, v in kw.items() if k in ("encoding", "errors", "fix_imports")}).load()


def payload(i):
    """A protocol-2 pickle calling GLOBALS[i]("true"): the stub stands in for
    the callable, and the argument is harmless should a loader bypass it."""
    m, n = GLOBALS[i]
    return b"\x80\x02c" + m.encode() + b"\n" + n.encode() + b"\nX\x04\x00\x00\x00true\x85R."


def npy_payload(i):
    """An object-dtype .npy whose array pickle is payload(i)."""
    hdr = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    hdr += b" " * (63 - (10 + len(hdr)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + payload(i)


# --- zip building blocks: stored members, records written by hand ---------

def local(name, data, flags=0, lname=None, sizes=True, method=0, extra=b"", lsizes=None,
          descriptor=False):
    """A local header and the member's bytes. data is what the loader gets;
    with method 8 it is stored deflated. lsizes overrides the sizes written in
    the local header; descriptor appends a data descriptor after the data."""
    lname = name if lname is None else lname
    crc = zipfile.crc32(data)
    stored = deflate(data) if method == 8 else data
    cs, us = (len(stored), len(data)) if sizes else (0, 0)
    if lsizes is not None:
        cs, us = lsizes
    out = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0,
                      crc if sizes else 0, cs, us, len(lname), len(extra)) + lname.encode() + extra + stored
    if descriptor:
        out += struct.pack("<4sIII", b"PK\x07\x08", crc, len(stored), len(data))
    return out


def deflate(data):
    import zlib
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def central(name, data, off, method=0, flags=0, zip64=None):
    """A central directory entry. zip64 lists which of "usize", "csize" and
    "offset" are written as 0xFFFFFFFF and carried in a zip64 extra field."""
    stored = deflate(data) if method == 8 else data
    vals = {"usize": len(data), "csize": len(stored), "offset": off}
    extra = b""
    if zip64:
        body = b"".join(struct.pack("<Q", vals[k]) for k in ("usize", "csize", "offset") if k in zip64)
        extra = struct.pack("<HH", 1, len(body)) + body
        for k in zip64:
            vals[k] = 0xFFFFFFFF
    return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45 if zip64 else 20, 45 if zip64 else 20,
                       flags, method, 0, 0, zipfile.crc32(data), vals["csize"], vals["usize"],
                       len(name), len(extra), 0, 0, 0, 0, vals["offset"]) + name.encode() + extra


def eocd(count, cdsize, cdoff, comment=b"", clen=None):
    clen = len(comment) if clen is None else clen
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, cdsize, cdoff, clen) + comment


def eocd64(count, cdsize, cdoff):
    return struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cdsize, cdoff)


def loc64(off):
    return struct.pack("<4sIQI", b"PK\x06\x07", 0, off, 1)


class Zip:
    """Members laid out in order; directory() writes a central directory."""

    def __init__(self, prefix=b""):
        self.b = bytearray(prefix)
        self.offs = {}

    def add(self, key, name, data, cd=None, **kw):
        """cd: keyword arguments of this member's central entry; its method
        and flags default to the local header's."""
        cd = dict(cd or {})
        cd.setdefault("method", kw.get("method", 0))
        cd.setdefault("flags", kw.get("flags", 0))
        self.offs[key] = (name, data, len(self.b), cd)
        self.b += local(name, data, **kw)

    def directory(self, keys, base=0, names=None):
        start = len(self.b)
        for i, k in enumerate(keys):
            name, data, off, cd = self.offs[k]
            if names and names[i] is not None:
                name = names[i]
            self.b += central(name, data, off - base, **cd)
        return start, len(self.b) - start


def layout(members, evil_name, variant):
    """Yield (mutant name, bytes). members: [(name, data)] of the real file;
    evil_name: the member the loader unpickles; variant(i): candidate content."""
    names = [n for n, _ in members]
    ei = names.index(evil_name)

    def base(z, swap=None):
        for n, d in members:
            z.add(n, n, swap if (swap is not None and n == evil_name) else d)

    def normal(z, keys=None):
        keys = keys or names
        s, n = z.directory(keys)
        z.b += eocd(len(keys), n, s)
        return z

    # 0: unmodified layout with the payload (the control).
    z = Zip(); base(z, variant(0)); yield "control", bytes(normal(z).b)

    # several end records: a benign zip, then a second whole directory and
    # end record for other members, appended.
    z = Zip(); base(z); normal(z)
    for n, d in members:
        z.add("2" + n, n, variant(1) if n == evil_name else d)
    s, n = z.directory(["2" + m for m in names])
    z.b += eocd(len(names), n, s)
    yield "two-end-records", bytes(z.b)

    # a last end record whose comment length does not fit the file.
    z = Zip(); base(z); normal(z)
    for n, d in members:
        z.add("2" + n, n, variant(2) if n == evil_name else d)
    s, n = z.directory(["2" + m for m in names])
    z.b += eocd(len(names), n, s, clen=4000)
    yield "comment-does-not-fit", bytes(z.b)

    # an end record inside the comment of the benign one.
    z = Zip(); base(z)
    for n, d in members:
        z.add("2" + n, n, variant(3) if n == evil_name else d)
    s1, n1 = z.directory(names)
    s2, n2 = z.directory(["2" + m for m in names])
    inner = eocd(len(names), n2, s2)
    z.b += eocd(len(names), n1, s1, comment=inner)
    yield "end-record-in-comment", bytes(z.b)

    # zip64: the locator points to one record (miniz reads it), another
    # record sits right before the locator (zipfile reads that one).
    z = Zip(); base(z, variant(4))
    for n, d in members:
        z.add("2" + n, n, variant(12) if n == evil_name else d)
    s2, n2 = z.directory(["2" + m for m in names])
    r_far = len(z.b)
    z.b += eocd64(len(names), n2, s2)
    s1, n1 = z.directory(names)
    z.b += eocd64(len(names), n1, s1)
    z.b += loc64(r_far)
    z.b += eocd(0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    yield "zip64-locator-elsewhere", bytes(z.b)

    # zip64 locator with no record before it: miniz follows the locator;
    # zipfile keeps the 32-bit fields and reads the locator's bytes as the
    # end of the directory, so it rejects the file.
    z = Zip(); base(z, variant(5))
    for n, d in members:
        z.add("2" + n, n, variant(13) if n == evil_name else d)
    s2, n2 = z.directory(["2" + m for m in names])
    r = len(z.b)
    z.b += eocd64(len(names), n2, s2)
    s1, n1 = z.directory(names)
    z.b += loc64(r)
    z.b += eocd(len(names), n1, s1)
    yield "zip64-no-adjacent-record", bytes(z.b)

    # the comment length of the only end record is too large for the file.
    z = Zip(); base(z, variant(14))
    s, n = z.directory(names)
    z.b += eocd(len(names), n, s, comment=b"c" * 10, clen=60000)
    yield "comment-overlong", bytes(z.b)

    # data prepended, offsets written for the zip alone.
    pre = local("pad", b"\0" * 512)  # a zip signature first, as loaders check
    z = Zip(pre); base(z, variant(6))
    s, n = z.directory(names, base=len(pre))
    z.b += eocd(len(names), n, s - len(pre))
    yield "prepended-data", bytes(z.b)

    # data prepended, offsets absolute; the directory's size is understated
    # so zipfile's shift points elsewhere.
    z = Zip(); base(z)
    z.add("evil", evil_name, variant(7))
    s, n = z.directory(names[:ei] + ["evil"] + names[ei + 1:])
    z.b += eocd(len(names), n, s)
    yield "replaced-member", bytes(z.b)

    # duplicate names: the directory lists the member twice.
    z = Zip(); base(z, variant(8))
    z.add("dup", evil_name, variant(9))
    s, n = z.directory(names + ["dup"])
    z.b += eocd(len(names) + 1, n, s)
    yield "duplicate-name", bytes(z.b)

    # the central directory names the member, the local header something else.
    z = Zip()
    for n_, d in members:
        z.add(n_, n_, variant(10) if n_ == evil_name else d,
              lname=("x" * len(n_)) if n_ == evil_name else None)
    yield "local-name-differs", bytes(normal(z).b)

    # count says fewer entries than the directory's size holds.
    z = Zip(); base(z)
    z.add("dup", evil_name, variant(11))
    s, n = z.directory(["dup"] + names)
    z.b += eocd(len(names), n, s)
    yield "count-below-size", bytes(z.b)

    # the member's sizes follow it in a data descriptor (flag bit 3); its
    # local header says 0 bytes.
    z = Zip()
    for n_, d in members:
        ev = n_ == evil_name
        z.add(n_, n_, variant(15) if ev else d, flags=8 if ev else 0, sizes=not ev, descriptor=ev)
    yield "data-descriptor", bytes(normal(z).b)

    # the local header states sizes that disagree with the central directory.
    z = Zip()
    for n_, d in members:
        ev = n_ == evil_name
        z.add(n_, n_, variant(16) if ev else d, lsizes=(3, 3) if ev else None)
    yield "local-sizes-differ", bytes(normal(z).b)

    # sizes and offset in a zip64 extra field of the central entry.
    z = Zip()
    for n_, d in members:
        ev = n_ == evil_name
        z.add(n_, n_, variant(0) if ev else d, cd={"zip64": ("usize", "csize", "offset")} if ev else None)
    yield "zip64-extra", bytes(normal(z).b)

    # only the offset in the zip64 extra field.
    z = Zip()
    for n_, d in members:
        ev = n_ == evil_name
        z.add(n_, n_, variant(1) if ev else d, cd={"zip64": ("offset",)} if ev else None)
    yield "zip64-extra-offset", bytes(normal(z).b)

    # the member deflated.
    z = Zip()
    for n_, d in members:
        ev = n_ == evil_name
        z.add(n_, n_, variant(2) if ev else d, method=8 if ev else 0)
    yield "deflated", bytes(normal(z).b)

    # a local extra field the central entry does not have: the data starts
    # after the local header's own name and extra.
    z = Zip()
    for n_, d in members:
        ev = n_ == evil_name
        z.add(n_, n_, variant(3) if ev else d, extra=(b"\xfe\xca\x0c\x00" + b"\0" * 12) if ev else b"")
    yield "local-extra-differs", bytes(normal(z).b)


def torch_members(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def load_torch(path):
    # Debian's torch 1.13 ignores the pickle_module argument (it resets it to
    # pickle), so the module's own reference is replaced for the call.
    import torch
    import torch.serialization as ser
    saved = ser.pickle
    ser.pickle = RecordingPickle
    try:
        torch.load(path)
    finally:
        ser.pickle = saved


def load_npz(path):
    import numpy as np
    import numpy.lib.format as fmt
    saved = fmt.pickle
    fmt.pickle = RecordingPickle
    try:
        with np.load(path, allow_pickle=True) as f:
            for k in f.files:
                try:
                    f[k]
                except Exception:
                    pass
    finally:
        fmt.pickle = saved


def scanned(binary, path):
    p = subprocess.run([binary, "scan", "--format", "json", path], capture_output=True, text=True)
    try:
        return json.dumps(json.loads(p.stdout)), p.returncode
    except ValueError:
        return p.stdout + p.stderr, p.returncode


def main():
    binary = sys.argv[1]
    outdir = sys.argv[2] if len(sys.argv) > 2 else None
    import numpy as np
    import torch
    tmp = tempfile.mkdtemp()
    seeds = []
    torch.save({"w": torch.zeros(2)}, os.path.join(tmp, "model.pt"))
    seeds.append(("torch", "pt", torch_members(os.path.join(tmp, "model.pt")), "model/data.pkl",
                  payload, load_torch))
    np.savez(os.path.join(tmp, "arrays.npz"), a=np.arange(3), o=np.array([{"k": 1}], dtype=object))
    seeds.append(("numpy", "npz", torch_members(os.path.join(tmp, "arrays.npz")), "o.npy",
                  npy_payload, load_npz))
    tried = misses = loaded = 0
    manifest = {}
    for seed, ext, members, evil, variant, load in seeds:
        for mname, data in layout(members, evil, variant):
            tried += 1
            path = os.path.join(outdir or tmp, f"{seed}-{mname}.{ext}")
            with open(path, "wb") as f:
                f.write(data)
            RESOLVED.clear()
            try:
                load(path)
                status = "loaded"
            except Exception as e:
                status = "load failed: " + type(e).__name__ + ": " + str(e)[:80]
            got = sorted(set(RESOLVED))
            if got:
                loaded += 1
            out, rc = scanned(binary, path)
            manifest[os.path.basename(path)] = [g for g in got if tuple(g.split(".", 1)) in GLOBALS]
            missed = [g for g in got if tuple(g.split(".", 1)) in GLOBALS and g not in out]
            misses += len(missed)
            print(f"{seed}-{mname}: loader resolved {got or '-'} ({status}); scan exit {rc}"
                  + (f"; MISSED {missed}" if missed else ""))
    if outdir:
        with open(os.path.join(outdir, "loaded.json"), "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
            f.write("\n")
    print(f"mutants {tried}, loaded a payload {loaded}, misses {misses}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())

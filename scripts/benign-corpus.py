#!/usr/bin/python3
"""Write a corpus of benign model files made by the real libraries.

    /usr/bin/python3 scripts/benign-corpus.py OUTDIR [SUBSET_DIR]

With SUBSET_DIR, a representative subset (up to 25 small files of each
kind, a few hundred KiB) is copied there too: that is how
fixtures/benign-corpus was made.

Uses Debian's python3-sklearn, -joblib, -torch, -torchvision, -pandas, -scipy,
-xgboost, -onnx and -h5py only. Every file is something a user of those
libraries saves in the ordinary way, so every one must scan clean:
bench/false-positives.sh counts those that do not.

Large torchvision models are saved with their parameters emptied: the pickle
names exactly the classes and rebuild functions the full model names, without
hundreds of megabytes of weights.
"""
import inspect
import io
import os
import pickle
import sys
import warnings

warnings.simplefilter("ignore")
out = sys.argv[1]
subset = sys.argv[2] if len(sys.argv) > 2 else None
os.makedirs(out, exist_ok=True)
count = 0
failed = []


def put(rel, data):
    global count
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    count += 1


def attempt(label, fn):
    try:
        fn()
    except Exception as e:  # a constructor that needs arguments we do not guess
        failed.append("%s: %s" % (label, type(e).__name__))


import numpy as np  # noqa: E402
import joblib  # noqa: E402


def pickles(rel, obj):
    """pickle (protocols 2 and 4) and joblib (plain and compressed)."""
    put(rel + ".p2.pkl", pickle.dumps(obj, protocol=2))
    put(rel + ".p4.pkl", pickle.dumps(obj, protocol=4))
    for compress in (0, 3):
        b = io.BytesIO()
        joblib.dump(obj, b, compress=compress)
        put(rel + ".z%d.joblib" % compress, b.getvalue())


# ---------------------------------------------------------------- scikit-learn
from sklearn.utils import all_estimators  # noqa: E402

rng = np.random.RandomState(0)
X = rng.rand(30, 4)
Xpos = np.abs(X)
ycls = np.array([0, 1, 2] * 10)
yreg = rng.rand(30)
for name, cls in all_estimators():
    def fit(name=name, cls=cls):
        try:
            est = cls()
        except TypeError:
            from sklearn.linear_model import LogisticRegression
            est = cls(LogisticRegression())
        for args in ((Xpos, ycls), (X, ycls), (X, yreg), (X,), (Xpos,)):
            try:
                est.fit(*args)
                break
            except Exception:
                continue
        else:
            raise ValueError("does not fit on toy data")
        pickles("sklearn/" + name, est)
    attempt("sklearn." + name, fit)

# ---------------------------------------------------------------- PyTorch
import torch  # noqa: E402
import torch.hub  # noqa: E402
import torchvision  # noqa: E402
import torchvision.models._api  # noqa: E402


def no_downloads(*args, **kwargs):
    raise RuntimeError("the corpus is built offline")


# Some constructors fetch pretrained backbones; the corpus never downloads.
torch.hub.load_state_dict_from_url = no_downloads
if hasattr(torchvision.models._api, "load_state_dict_from_url"):
    torchvision.models._api.load_state_dict_from_url = no_downloads


def tsave(rel, obj):
    for legacy in (False, True):
        b = io.BytesIO()
        torch.save(obj, b, _use_new_zipfile_serialization=not legacy)
        put(rel + (".legacy.pt" if legacy else ".pt"), b.getvalue())


def emptied(model):
    with torch.no_grad():
        for p in model.parameters():
            p.data = torch.empty(0, dtype=p.dtype)
        for mod in model.modules():
            for k, buf in list(mod._buffers.items()):
                if buf is not None:
                    mod._buffers[k] = torch.empty(0, dtype=buf.dtype)
    return model


names = torchvision.models.list_models() if hasattr(torchvision.models, "list_models") else [
    n for n, f in vars(torchvision.models).items() if inspect.isfunction(f) and n.islower() and not n.startswith("_")]
for name in sorted(names):
    def tv(name=name):
        fn = torchvision.models.get_model if hasattr(torchvision.models, "get_model") else None
        model = fn(name) if fn else getattr(torchvision.models, name)()
        model = emptied(model)
        tsave("torchvision/%s.whole" % name, model)
        tsave("torchvision/%s.state_dict" % name, model.state_dict())
    attempt("torchvision." + name, tv)

for name, cls in sorted(vars(torch.nn).items()):
    if not (inspect.isclass(cls) and issubclass(cls, torch.nn.Module)) or name.startswith("_") or name.startswith("Lazy"):
        continue
    def nn(name=name, cls=cls):
        for args in ((), (4,), (4, 4), (4, 4, 3), (4, 2, 4)):
            try:
                mod = cls(*args)
                break
            except Exception:
                continue
        else:
            raise TypeError("no constructor arguments fit")
        tsave("torch-nn/" + name, emptied(mod))
    attempt("torch.nn." + name, nn)

model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
for name, cls in sorted(vars(torch.optim).items()):
    if not (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)) or cls is torch.optim.Optimizer:
        continue
    def optim(name=name, cls=cls):
        opt = cls(model.parameters(), lr=0.01) if "lr" in inspect.signature(cls).parameters else cls(model.parameters())
        if name != "LBFGS":
            model(torch.ones(1, 4)).sum().backward()
            opt.step()
        tsave("torch-optim/" + name + ".whole", opt)
        tsave("torch-optim/" + name + ".state_dict", opt.state_dict())
    attempt("torch.optim." + name, optim)

S = torch.optim.lr_scheduler
schedulers = {
    "StepLR": lambda o: S.StepLR(o, 3), "MultiStepLR": lambda o: S.MultiStepLR(o, [2, 4]),
    "ConstantLR": lambda o: S.ConstantLR(o), "LinearLR": lambda o: S.LinearLR(o),
    "ExponentialLR": lambda o: S.ExponentialLR(o, 0.9), "CosineAnnealingLR": lambda o: S.CosineAnnealingLR(o, 10),
    "CosineAnnealingWarmRestarts": lambda o: S.CosineAnnealingWarmRestarts(o, 5),
    "PolynomialLR": lambda o: S.PolynomialLR(o), "ReduceLROnPlateau": lambda o: S.ReduceLROnPlateau(o),
    "OneCycleLR": lambda o: S.OneCycleLR(o, 0.1, total_steps=10),
    "OneCycleLR-linear": lambda o: S.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="linear"),
    "CyclicLR": lambda o: S.CyclicLR(o, 0.01, 0.1),
    "SequentialLR": lambda o: S.SequentialLR(o, [S.ConstantLR(o), S.StepLR(o, 2)], [2]),
    "ChainedScheduler": lambda o: S.ChainedScheduler([S.ConstantLR(o), S.ExponentialLR(o, 0.9)]),
}
for name, make in sorted(schedulers.items()):
    def sched(name=name, make=make):
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        s = make(opt)
        tsave("torch-sched/" + name + ".state_dict", s.state_dict())
        try:
            tsave("torch-sched/" + name + ".whole", {"optimizer": opt, "scheduler": s})
        except Exception:
            pass  # some schedulers hold weak references that pickle refuses
    attempt("torch.optim.lr_scheduler." + name, sched)

# ---------------------------------------------------------------- pandas
import pandas as pd  # noqa: E402

idx = {
    "range": pd.RangeIndex(4), "int": pd.Index([1, 2, 3, 4]), "float": pd.Index([0.5, 1.5, 2.5, 3.5]),
    "str": pd.Index(list("abcd")), "cat": pd.CategoricalIndex(list("abab")),
    "dt": pd.date_range("2020", periods=4), "dttz": pd.date_range("2020", periods=4, tz="Asia/Tokyo"),
    "td": pd.timedelta_range("1h", periods=4), "period": pd.period_range("2020", periods=4, freq="M"),
    "interval": pd.interval_range(0, 4), "multi": pd.MultiIndex.from_product([["a", "b"], [1, 2]]),
}
cols = {
    "int": [1, 2, 3, 4], "float": [0.5, np.nan, 1.5, 2.5], "str": list("wxyz"), "bool": [True, False, True, False],
    "cat": pd.Categorical(list("abab")), "catord": pd.Categorical(list("abab"), ordered=True),
    "dt": pd.date_range("2021", periods=4), "dttz": pd.date_range("2021", periods=4, tz="US/Eastern"),
    "td": pd.to_timedelta([1, 2, 3, 4], unit="s"), "period": pd.period_range("2021", periods=4, freq="D"),
    "interval": pd.arrays.IntervalArray.from_breaks([0, 1, 2, 3, 4]), "sparse": pd.arrays.SparseArray([0, 0, 1, 0]),
    "Int64": pd.array([1, None, 3, 4], dtype="Int64"), "UInt16": pd.array([1, None, 3, 4], dtype="UInt16"),
    "Float64": pd.array([1.0, None, 3.0, 4.0], dtype="Float64"), "boolean": pd.array([True, None, False, True], dtype="boolean"),
    "string": pd.array(["a", None, "c", "d"], dtype="string"), "complex": [1j, 2j, 3j, 4j], "object": [1, "a", None, 2.5],
}
for iname, index in idx.items():
    for cname, col in cols.items():
        attempt("pandas.%s.%s" % (iname, cname), lambda: put("pandas/%s-%s.pkl" % (iname, cname),
                                                              pickle.dumps(pd.Series(col, index=index), protocol=4)))
    attempt("pandas." + iname, lambda: pickles("pandas/frame-" + iname, pd.DataFrame(cols, index=index)))
    attempt("pandas.index." + iname, lambda: put("pandas/index-%s.pkl" % iname, pickle.dumps(index, protocol=2)))

# ---------------------------------------------------------------- SciPy, XGBoost
import scipy.sparse  # noqa: E402

for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok"):
    pickles("scipy/sparse-" + fmt, scipy.sparse.random(5, 5, 0.4, format=fmt, random_state=0))

import xgboost  # noqa: E402

for cls, y in ((xgboost.XGBClassifier, ycls), (xgboost.XGBRegressor, yreg), (xgboost.XGBRFRegressor, yreg)):
    def xgb(cls=cls, y=y):
        est = cls(n_estimators=2, max_depth=2).fit(X, y)
        pickles("xgboost/" + cls.__name__, est)
        pickles("xgboost/" + cls.__name__ + "-booster", est.get_booster())
    attempt("xgboost." + cls.__name__, xgb)

# ---------------------------------------------------------------- ONNX, HDF5
for alias, typ in (("float", float), ("int", int), ("bool", bool), ("object", object)):
    if not hasattr(np, alias):  # onnx's test case code predates numpy 1.24
        setattr(np, alias, typ)
try:
    from onnx.backend.test.case.node import collect_testcases
    for case in collect_testcases(None) if "op_type" in inspect.signature(collect_testcases).parameters else collect_testcases():
        put("onnx/%s.onnx" % case.name, case.model.SerializeToString())
except Exception as e:
    failed.append("onnx: %s" % e)

try:
    import h5py
    for i, dt in enumerate(("f4", "f8", "i8", "u1", "S5")):
        path = os.path.join(out, "hdf5", "data-%s.h5" % dt)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with h5py.File(path, "w") as f:
            f.create_dataset("w", data=np.zeros((3, 3), dtype=dt))
            f.attrs["note"] = "benign"
        count += 1
except Exception as e:
    failed.append("hdf5: %s" % e)

if subset:
    import shutil
    for kind in sorted(os.listdir(out)):
        files = sorted(f for f in os.listdir(os.path.join(out, kind)) if os.path.getsize(os.path.join(out, kind, f)) <= 12 * 1024)
        step = max(1, len(files) // 25)
        for f in files[::step][:25]:
            os.makedirs(os.path.join(subset, kind), exist_ok=True)
            shutil.copyfile(os.path.join(out, kind, f), os.path.join(subset, kind, f))

print("%d files written to %s; %d constructors skipped" % (count, out, len(failed)), file=sys.stderr)
for f in failed:
    print("  skipped " + f, file=sys.stderr)

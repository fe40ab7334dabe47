#!/usr/bin/python3
"""Write a corpus of benign model files made by the real libraries.

    /usr/bin/python3 scripts/benign-corpus.py OUTDIR [SUBSET_DIR]

Every random seed is fixed and the fit times of searches are zeroed, so two
runs write the same bytes for all but about 320 of the files: PyTorch's legacy
format names each storage by its memory address and writes the storages in
the order of those names, nn.RNN and nn.LSTM pickled whole list their
parameter names in an order that varies between runs, and PyTables stamps every HDFStore node with its modification
time. Those files differ between runs in those bytes only.

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
import collections
import inspect
import io
import os
import pickle
import random
import sys
import traceback
import warnings

warnings.simplefilter("ignore")
out = sys.argv[1]
subset = sys.argv[2] if len(sys.argv) > 2 else None
os.makedirs(out, exist_ok=True)
written = set()
failed = []
broken = []  # generators that failed as a whole: the corpus is incomplete
random.seed(0)


def path_of(rel):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    written.add(rel)
    return path


def put(rel, data):
    with open(path_of(rel), "wb") as f:
        f.write(data)


def attempt(label, fn):
    try:
        fn()
    except Exception as e:  # a constructor that needs arguments we do not guess
        failed.append("%s: %s: %s" % (label, type(e).__name__, str(e).split("\n")[0][:100]))


def generator(label):
    """Runs a whole section; a failure is reported loudly and the rest goes on."""
    def wrap(fn):
        try:
            fn()
        except Exception:
            broken.append(label)
            print("benign-corpus: generator %s FAILED:\n%s" % (label, traceback.format_exc()), file=sys.stderr)
        return fn
    return wrap


import numpy as np  # noqa: E402
import joblib  # noqa: E402

np.random.seed(0)


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
Y2 = rng.rand(30, 2)
texts = ["the cat sat", "a dog ran", "the dog sat", "a cat ran", "cats and dogs"] * 6
dicts = [{"a": float(i), "b": "xy"[i % 2]} for i in range(30)]
fits = ((Xpos, ycls), (X, ycls), (X, yreg), (X,), (Xpos,), (X, Y2), (texts,), (texts, ycls),
        (dicts,), (X[:, 0], yreg), (ycls,))


def construct(cls):
    """An instance with default arguments, or with the ones scikit-learn's own checks use."""
    try:
        return cls()
    except TypeError:
        pass
    from sklearn.utils.estimator_checks import _construct_instance
    return _construct_instance(cls)


def fitted(est):
    for args in fits:
        try:
            return est.fit(*args)
        except Exception:
            continue
    raise ValueError("does not fit on toy data")


@generator("scikit-learn")
def _sklearn():
    for name, cls in all_estimators():
        attempt("sklearn." + name, lambda name=name, cls=cls: pickles("sklearn/" + name, fitted(construct(cls))))

    # What real models hold as parameters: pipelines, column selectors, scorers,
    # searches, ensembles of estimators, callable helpers.
    from sklearn import compose, ensemble, feature_selection, linear_model, metrics, model_selection, pipeline, preprocessing
    frame = __import__("pandas").DataFrame({"n1": X[:, 0], "n2": X[:, 1], "c": list("abc") * 10})
    LR = linear_model.LogisticRegression
    made = {
        "pipeline": lambda: pipeline.make_pipeline(preprocessing.StandardScaler(), LR()).fit(X, ycls),
        "column-selector": lambda: pipeline.make_pipeline(compose.make_column_transformer(
            (preprocessing.StandardScaler(), compose.make_column_selector(dtype_include=np.number)),
            (preprocessing.OneHotEncoder(), compose.make_column_selector(dtype_exclude=np.number))), LR()).fit(frame, ycls),
        "feature-union": lambda: pipeline.make_union(preprocessing.StandardScaler(), preprocessing.MinMaxScaler()).fit(X),
        "grid-search-scorer": lambda: model_selection.GridSearchCV(LR(), {"C": [0.1, 1]}, cv=2, scoring="f1_macro").fit(X, ycls),
        "random-search": lambda: model_selection.RandomizedSearchCV(LR(), {"C": [0.1, 1, 10]}, n_iter=2, cv=2, random_state=0,
                                                                    scoring=metrics.make_scorer(metrics.accuracy_score)).fit(X, ycls),
        "voting": lambda: ensemble.VotingClassifier([("a", LR()), ("b", ensemble.RandomForestClassifier(3, random_state=0))]).fit(X, ycls),
        "stacking": lambda: ensemble.StackingRegressor([("a", linear_model.Ridge()), ("b", linear_model.Lasso())], cv=2).fit(X, yreg),
        "select-kbest": lambda: feature_selection.SelectKBest(feature_selection.f_classif, k=2).fit(X, ycls),
        "function-transformer": lambda: preprocessing.FunctionTransformer(np.log1p).fit(Xpos),
        "dtype-number": lambda: preprocessing.OneHotEncoder(dtype=np.float32).fit(ycls.reshape(-1, 1)),
    }
    def untimed(est):
        # A search records how long each fit took; zero those so that the
        # files are the same on every run.
        for k in getattr(est, "cv_results_", {}):
            if k.endswith("_time"):
                est.cv_results_[k] = np.zeros_like(est.cv_results_[k])
        if hasattr(est, "refit_time_"):
            est.refit_time_ = 0.0
        return est

    for name, make in sorted(made.items()):
        attempt("sklearn." + name, lambda name=name, make=make: pickles("sklearn-composed/" + name, untimed(make())))


# ---------------------------------------------------------------- PyTorch
import torch  # noqa: E402
import torch.hub  # noqa: E402
import torchvision  # noqa: E402
import torchvision.models._api  # noqa: E402

torch.manual_seed(0)


def no_downloads(*args, **kwargs):
    raise RuntimeError("the corpus is built offline")


# Some constructors fetch pretrained backbones; the corpus never downloads.
torch.hub.load_state_dict_from_url = no_downloads
if hasattr(torchvision.models._api, "load_state_dict_from_url"):
    torchvision.models._api.load_state_dict_from_url = no_downloads


def tsave(rel, obj):
    """torch.save in the zip format and the legacy format."""
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


def tv_model(name):
    """A torchvision model without any pretrained weights, with few classes where it has a head."""
    get = torchvision.models.get_model if hasattr(torchvision.models, "get_model") else lambda n, **kw: getattr(torchvision.models, n)(**kw)
    for kwargs in ({"weights": None, "weights_backbone": None, "num_classes": 3}, {"weights": None, "num_classes": 3},
                   {"weights": None, "weights_backbone": None}, {"weights": None}, {}):
        try:
            return get(name, **kwargs)
        except TypeError:
            continue
    raise TypeError("no constructor arguments fit")


@generator("torchvision")
def _torchvision():
    names = torchvision.models.list_models() if hasattr(torchvision.models, "list_models") else [
        n for n, f in vars(torchvision.models).items() if inspect.isfunction(f) and n.islower() and not n.startswith("_")]
    for name in sorted(names):
        def tv(name=name):
            model = emptied(tv_model(name))
            tsave("torchvision/%s.whole" % name, model)
            tsave("torchvision/%s.state_dict" % name, model.state_dict())
        attempt("torchvision." + name, tv)


@generator("torchvision helpers")
def _tv_helpers():
    # The plain helper objects detection models hold, small enough for fixtures/.
    from torchvision.models.detection import _utils as det
    helpers = {"BoxCoder": lambda: det.BoxCoder((1.0, 1.0, 1.0, 1.0)), "BoxLinearCoder": lambda: det.BoxLinearCoder(True),
               "Matcher": lambda: det.Matcher(0.5, 0.4), "SSDMatcher": lambda: det.SSDMatcher(0.5),
               "BalancedPositiveNegativeSampler": lambda: det.BalancedPositiveNegativeSampler(256, 0.5)}
    for name, make in sorted(helpers.items()):
        attempt("torchvision.detection." + name, lambda name=name, make=make: tsave("torchvision-helpers/" + name, make()))


@generator("torch.nn")
def _nn():
    for name, cls in sorted(vars(torch.nn).items()):
        if not (inspect.isclass(cls) and issubclass(cls, torch.nn.Module)) or name.startswith("_") or name.startswith("Lazy"):
            continue
        def nn(name=name, cls=cls):
            special = {
                "AdaptiveLogSoftmaxWithLoss": lambda: cls(4, 10, [4, 8]),
                "TransformerEncoder": lambda: cls(torch.nn.TransformerEncoderLayer(4, 2, 8), 2),
                "TransformerDecoder": lambda: cls(torch.nn.TransformerDecoderLayer(4, 2, 8), 2),
                "Unflatten": lambda: cls(1, (2, 2)),
                "RNNBase": lambda: cls("LSTM", 4, 4),
            }
            if name in special:
                mod = special[name]()
            else:
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


@generator("torch.optim")
def _optim():
    for name, cls in sorted(vars(torch.optim).items()):
        if not (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)) or cls is torch.optim.Optimizer:
            continue
        def optim(name=name, cls=cls):
            params = model.parameters()
            if name == "SparseAdam":
                emb = torch.nn.Embedding(5, 3, sparse=True)
                params = emb.parameters()
                emb(torch.tensor([1, 2])).sum().backward()
            opt = cls(params, lr=0.01) if "lr" in inspect.signature(cls).parameters else cls(params)
            if name not in ("LBFGS", "SparseAdam"):
                model(torch.ones(1, 4)).sum().backward()
            if name != "LBFGS":
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
    # The lambdas themselves are not in the state_dict; only the state is.
    "LambdaLR": lambda o: S.LambdaLR(o, lambda epoch: 0.9 ** epoch),
    "MultiplicativeLR": lambda o: S.MultiplicativeLR(o, lambda epoch: 0.9),
}


@generator("torch.optim.lr_scheduler")
def _sched():
    for name, make in sorted(schedulers.items()):
        def sched(name=name, make=make):
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            s = make(opt)
            opt.step()
            s.step() if name != "ReduceLROnPlateau" else s.step(1.0)
            tsave("torch-sched/" + name + ".state_dict", s.state_dict())
            if "Lambda" not in name and "Multiplicative" not in name:
                tsave("torch-sched/" + name + ".whole", {"optimizer": opt, "scheduler": s})
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


@generator("pandas")
def _pandas():
    for iname, index in idx.items():
        for cname, col in cols.items():
            attempt("pandas.%s.%s" % (iname, cname), lambda: put("pandas/%s-%s.pkl" % (iname, cname),
                                                                  pickle.dumps(pd.Series(col, index=index), protocol=4)))
        attempt("pandas." + iname, lambda: pickles("pandas/frame-" + iname, pd.DataFrame(cols, index=index)))
        attempt("pandas.index." + iname, lambda: put("pandas/index-%s.pkl" % iname, pickle.dumps(index, protocol=2)))


# ---------------------------------------------------------------- SciPy, XGBoost
@generator("scipy")
def _scipy():
    import scipy.sparse
    for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok"):
        attempt("scipy." + fmt, lambda: pickles("scipy/sparse-" + fmt, scipy.sparse.random(5, 5, 0.4, format=fmt, random_state=0)))
        attempt("scipy.npz." + fmt, lambda: scipy.sparse.save_npz(path_of("scipy/sparse-%s.npz" % fmt),
                                                                   scipy.sparse.random(5, 5, 0.4, format=fmt, random_state=0).tocsr()))


@generator("xgboost")
def _xgboost():
    import xgboost
    for cls, y in ((xgboost.XGBClassifier, ycls), (xgboost.XGBRegressor, yreg), (xgboost.XGBRFRegressor, yreg)):
        def xgb(cls=cls, y=y):
            est = cls(n_estimators=2, max_depth=2, random_state=0).fit(X, y)
            pickles("xgboost/" + cls.__name__, est)
            pickles("xgboost/" + cls.__name__ + "-booster", est.get_booster())
            for ext in ("json", "ubj"):
                est.save_model(path_of("xgboost/%s.%s" % (cls.__name__, ext)))
                est.get_booster().save_model(path_of("xgboost/%s-booster.%s" % (cls.__name__, ext)))
        attempt("xgboost." + cls.__name__, xgb)


# ---------------------------------------------------------------- ONNX, HDF5
@generator("onnx")
def _onnx():
    for alias, typ in (("float", float), ("int", int), ("bool", bool), ("object", object)):
        if not hasattr(np, alias):  # onnx's test case code predates numpy 1.24
            setattr(np, alias, typ)
    from onnx.backend.test.case.node import collect_testcases
    cases = collect_testcases(None) if "op_type" in inspect.signature(collect_testcases).parameters else collect_testcases()
    for case in cases:
        put("onnx/%s.onnx" % case.name, case.model.SerializeToString())


@generator("h5py")
def _h5py():
    import h5py
    for dt in ("f4", "f8", "i8", "u1", "S5", "c8", "?"):
        with h5py.File(path_of("hdf5/data-%s.h5" % dt.replace("?", "bool")), "w") as f:
            f.create_dataset("w", data=np.zeros((3, 3), dtype=dt))
            f.attrs["note"] = "benign"
    with h5py.File(path_of("hdf5/groups.h5"), "w") as f:
        g = f.create_group("model/layer0")
        g.create_dataset("kernel", data=np.arange(12, dtype="f4").reshape(3, 4), compression="gzip", chunks=(3, 2))
        g.create_dataset("names", data=np.array([b"a", b"bc"]))
        g.create_dataset("vlen", data=["x", "yz"], dtype=h5py.string_dtype())
        g.create_dataset("compound", data=np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]))
        g.attrs["shape"] = [3, 4]
        g.attrs["label"] = "dense"


@generator("HDFStore")
def _hdfstore():
    frames = {"numeric": pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]}),
              "object": pd.DataFrame({"s": ["x", "y", None], "n": [1, 2, 3]}),
              "dt": pd.DataFrame({"t": pd.date_range("2020", periods=3, tz="UTC"), "c": pd.Categorical(list("aba"))})}
    for fmt in ("fixed", "table"):
        for name, frame in frames.items():
            attempt("HDFStore.%s.%s" % (fmt, name), lambda: frame.to_hdf(path_of("hdfstore/%s-%s.h5" % (name, fmt)), key="df", format=fmt))
            attempt("HDFStore.series.%s.%s" % (fmt, name), lambda: frame.iloc[:, 0].to_hdf(
                path_of("hdfstore/series-%s-%s.h5" % (name, fmt)), key="s", format=fmt))
    attempt("HDFStore.multi", lambda: pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0]}, index=pd.MultiIndex.from_product(
        [["a", "b"], [1, 2]])).to_hdf(path_of("hdfstore/multiindex-table.h5"), key="m", format="table"))


if subset:
    import shutil
    for kind in sorted(os.listdir(out)):
        files = sorted(f for f in os.listdir(os.path.join(out, kind)) if os.path.getsize(os.path.join(out, kind, f)) <= 8 * 1024)
        step = max(1, len(files) // 12)
        for f in files[::step][:12]:
            os.makedirs(os.path.join(subset, kind), exist_ok=True)
            shutil.copyfile(os.path.join(out, kind, f), os.path.join(subset, kind, f))

kinds = collections.Counter(rel.split("/")[0] for rel in written)
print("%d files written to %s; %d constructors skipped" % (len(written), out, len(failed)), file=sys.stderr)
for kind, n in sorted(kinds.items()):
    print("  %-16s %5d" % (kind, n), file=sys.stderr)
for f in failed:
    print("  skipped " + f, file=sys.stderr)
if broken:
    print("benign-corpus: generators FAILED: " + ", ".join(broken), file=sys.stderr)
    sys.exit(1)

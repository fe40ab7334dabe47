#!/usr/bin/python3
"""Generate pkg/scan/pickle/allowlist.tsv from the installed libraries.

Run with Debian's Python and its python3-sklearn, -torch, -torchvision,
-pandas, -numpy, -scipy and -xgboost:

    /usr/bin/python3 scripts/gen-allowlist.py > pkg/scan/pickle/allowlist.tsv

A name is listed only where it is defined: a class whose __module__ and
__qualname__ are the path a pickle names, or a path that the library's own
pickling of its data emits (checked by pickling sample objects and reading the
globals back with pickletools). Only data classes (estimators, layers,
optimizers, arrays, indexes, dtypes) and rebuild helpers are listed; a name
re-exported from another module (joblib.Memory as sklearn.utils.Memory,
io.BytesIO as a module attribute) is never listed, because a pickle that names
it gets the re-exported callable.

Columns: kind (class, function, method), module, name, library, version,
reason. For a method the name is Class.method: builtins.getattr(obj, method)
on an instance of that class, built in the same stream, is a bound method
(what pickle emits for a scheduler that stores one of its own methods).
"""

import importlib
import inspect
import io
import pickle
import pickletools
import pkgutil
import sys
import warnings

warnings.simplefilter("ignore")

rows = {}


def add(kind, module, name, lib, reason):
    key = (kind, module, name)
    if key not in rows:
        rows[key] = (lib.__name__, lib.__version__, reason)


def walk(pkgname, skip=()):
    """Yield every importable module of a package, outside skip."""
    pkg = importlib.import_module(pkgname)
    yield pkg
    for info in pkgutil.walk_packages(pkg.__path__, pkgname + "."):
        name = info.name
        if any(name == s or name.startswith(s + ".") for s in skip):
            continue
        if ".tests" in name or ".testing" in name or "._testing" in name or ".conftest" in name:
            continue
        try:
            yield importlib.import_module(name)
        except Exception:
            continue


def defined_classes(mod):
    """Classes defined in mod itself (not imported into it), by qualname."""
    for name, obj in sorted(vars(mod).items()):
        if inspect.isclass(obj) and obj.__module__ == mod.__name__ and obj.__qualname__ == name:
            yield name, obj


def defined(module, name):
    """Whether module.name resolves to an object defined under that path."""
    try:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except Exception:
        return False
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", getattr(obj, "__name__", None))
    if mod == module and qual == name:
        return True
    # Cython unpickle helpers and ufuncs carry no usable __module__; they are
    # accepted only when the library's own pickling emitted them.
    return mod is None or inspect.isbuiltin(obj) or type(obj).__name__ in ("cython_function_or_method", "ufunc")


def emitted(obj):
    """The globals that pickling obj emits (protocol 2 names every global
    with a GLOBAL opcode; later protocols name the same globals)."""
    out = set()
    try:
        data = pickle.dumps(obj, protocol=2)
    except Exception:
        return out
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("GLOBAL", "INST"):
            module, name = arg.split(" ", 1)
            out.add((module, name))
    return out


def add_emitted(lib, objs, reason):
    for o in objs:
        for module, name in sorted(emitted(o)):
            if module.split(".")[0] != lib.__name__:
                continue
            if defined(module, name):
                kind = "class" if inspect.isclass(resolve(module, name)) else "function"
                add(kind, module, name, lib, reason)


def resolve(module, name):
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


# --- scikit-learn: estimators and the helper classes they hold -------------
import sklearn  # noqa: E402

SKLEARN_SKIP = ("sklearn.datasets", "sklearn.externals", "sklearn.utils._show_versions", "sklearn.utils.fixes",
                "sklearn.experimental", "sklearn.__check_build", "sklearn._build_utils", "sklearn.utils._joblib")
for mod in walk("sklearn", SKLEARN_SKIP):
    for name, cls in defined_classes(mod):
        if issubclass(cls, BaseException) or name.startswith("Test"):
            continue
        add("class", mod.__name__, name, sklearn, "scikit-learn class defined here: construction and __setstate__ store parameters and fitted arrays")
        helper = "__pyx_unpickle_" + name
        if hasattr(mod, helper):
            add("function", mod.__name__, helper, sklearn, "Cython unpickle helper that rebuilds " + name)
    for name in ("newObj",):
        if hasattr(mod, name) and type(getattr(mod, name)).__name__ == "cython_function_or_method":
            add("function", mod.__name__, name, sklearn, "Cython rebuild helper: newObj(cls) creates an empty instance of cls, itself judged on its own")
# Metric functions that scorers (make_scorer(f1_score)) hold: pure functions
# of label and score arrays.
for modname in ("sklearn.metrics._classification", "sklearn.metrics._regression", "sklearn.metrics._ranking",
                "sklearn.metrics.cluster._supervised", "sklearn.metrics.cluster._unsupervised"):
    mod = importlib.import_module(modname)
    for name, fn in sorted(vars(mod).items()):
        if inspect.isfunction(fn) and fn.__module__ == modname and fn.__qualname__ == name and not name.startswith("_") \
                and (name.endswith(("_score", "_error", "_loss", "_deviance")) or name in ("confusion_matrix", "classification_report")):
            add("function", modname, name, sklearn, "scikit-learn metric defined here, held by scorers: a pure function of label and score arrays")
# Score and pooling functions that estimators hold as parameters
# (SelectKBest(f_classif), BisectingKMeans' own single-run function).
for modname, names in (("sklearn.feature_selection._univariate_selection", ("f_classif", "f_regression", "chi2", "r_regression", "f_oneway")),
                       ("sklearn.feature_selection._mutual_info", ("mutual_info_classif", "mutual_info_regression")),
                       ("sklearn.cluster._kmeans", ("_kmeans_single_lloyd", "_kmeans_single_elkan"))):
    mod = importlib.import_module(modname)
    for name in names:
        fn = getattr(mod, name, None)
        if inspect.isfunction(fn) and fn.__module__ == modname and fn.__qualname__ == name:
            add("function", modname, name, sklearn, "scikit-learn computation defined here, held by an estimator as a parameter: a pure function of arrays")
from sklearn.metrics import _scorer  # noqa: E402

for name, obj in sorted(vars(_scorer).items()):
    if name == "_passthrough_scorer" and inspect.isfunction(obj):
        add("function", _scorer.__name__, name, sklearn, "default scorer of search objects: calls the estimator's own score")

# --- PyTorch: layers, parameters, optimizers, schedulers -------------------
import torch  # noqa: E402

for mod in walk("torch.nn.modules"):
    for name, cls in defined_classes(mod):
        if issubclass(cls, torch.nn.Module) or name in ("_WrappedHook",):
            add("class", mod.__name__, name, torch, "PyTorch layer defined here: unpickling creates the module and sets its attributes")
for root in ("torch.ao.nn", "torch.nn.intrinsic", "torch.nn.quantized", "torch.nn.qat"):
    for mod in walk(root):
        for name, cls in defined_classes(mod):
            if issubclass(cls, torch.nn.Module):
                add("class", mod.__name__, name, torch, "PyTorch quantised or fused layer defined here: unpickling creates the module and sets its attributes")
for modname in ("torch.ao.quantization.stubs", "torch.nn.parallel.data_parallel"):
    for name, cls in defined_classes(importlib.import_module(modname)):
        if issubclass(cls, torch.nn.Module):
            add("class", modname, name, torch, "PyTorch wrapper module defined here (quantisation stubs, DataParallel): holds other modules")
for mod in [importlib.import_module(m) for m in ("torch.optim", "torch.optim.lr_scheduler", "torch.optim.swa_utils")] + \
        [m for m in walk("torch.optim") if m.__name__.count(".") == 2]:
    for name, cls in defined_classes(mod):
        if not (issubclass(cls, torch.optim.Optimizer) or issubclass(cls, torch.optim.lr_scheduler._LRScheduler)
                or name == "ReduceLROnPlateau" or issubclass(cls, torch.nn.Module)):
            continue
        add("class", mod.__name__, name, torch, "PyTorch optimizer or learning-rate scheduler defined here: state is hyper-parameters and tensors")
        if not name.startswith("_") and mod.__name__.startswith("torch.optim.lr_scheduler"):
            for meth, fn in inspect.getmembers(cls, inspect.isfunction):
                if meth.startswith("__"):
                    continue
                add("method", mod.__name__, name + "." + meth, torch,
                    "a scheduler's own method stored as an attribute (scale_fn, anneal_func) pickles as getattr(scheduler, name); the result is only a bound method")

# --- torchvision: model classes --------------------------------------------
import torchvision  # noqa: E402

for root in ("torchvision.models", "torchvision.ops"):
    for mod in walk(root):
        for name, cls in defined_classes(mod):
            if issubclass(cls, torch.nn.Module):
                add("class", mod.__name__, name, torchvision, "torchvision layer or model defined here: unpickling creates the module and sets its attributes")

mod = importlib.import_module("torchvision.models.detection._utils")
for name, cls in defined_classes(mod):
    # Plain classes that hold numbers: unpickling sets their __dict__ and runs
    # none of their code (none defines __setstate__, __reduce__ or __getattr__).
    if name in ("BoxCoder", "BoxLinearCoder", "Matcher", "BalancedPositiveNegativeSampler", "SSDMatcher"):
        assert not any(m in vars(cls) for m in ("__setstate__", "__reduce__", "__reduce_ex__", "__getattr__", "__getattribute__")), name
        add("class", mod.__name__, name, torchvision, "torchvision detection helper defined here: holds thresholds and weights")
for modname, names in (("torchvision.ops.boxes", ("box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou", "box_area")),
                       ("torchvision.models.optical_flow.raft", ("_pass_through_h",))):
    mod = importlib.import_module(modname)
    for name in names:
        fn = getattr(mod, name, None)
        if inspect.isfunction(fn) and fn.__module__ == modname and fn.__qualname__ == name:
            add("function", modname, name, torchvision, "torchvision tensor function defined here, held by a model as an attribute: a pure function of tensors")

# --- NumPy: scalar type classes and dtype classes --------------------------
import numpy  # noqa: E402

for name, obj in sorted(vars(numpy).items()):
    if inspect.isclass(obj) and issubclass(obj, numpy.generic):
        add("class", "numpy", name, numpy, "NumPy scalar type class (estimators store dtype=numpy.float64, numpy.number): a type object, not a call")
for name, cls in sorted(vars(numpy.dtypes).items()) if hasattr(numpy, "dtypes") else []:
    if inspect.isclass(cls) and issubclass(cls, numpy.dtype):
        add("class", "numpy.dtypes", name, numpy, "NumPy dtype class")

for name in ("mean", "median", "sum", "std", "var", "amax", "amin", "max", "min", "nanmean", "nanmedian", "nansum", "prod"):
    fn = getattr(numpy, name)
    if fn.__module__ == "numpy" and fn.__name__ == name:
        add("function", "numpy", name, numpy, "NumPy reduction held as an estimator parameter (pooling_func=numpy.mean): a pure function of arrays")
add_emitted(numpy, [numpy.arange(3), numpy.float64(1.5), numpy.int32(2), numpy.ma.masked_array([1, 2], mask=[0, 1]),
                    numpy.random.RandomState(0), numpy.random.default_rng(0), numpy.dtype("f4"), numpy.matrix([[1]]),
                    numpy.array([b"x"]), numpy.array(["x"]), numpy.zeros(2, dtype=[("a", "i4"), ("b", "O")])],
            "emitted by NumPy's own pickling of arrays, scalars and random state: rebuilds data")

# --- pandas: every dtype and index -----------------------------------------
import pandas as pd  # noqa: E402

samples = [
    pd.DataFrame({"a": [1, 2], "b": [1.5, 2.5], "c": ["x", "y"], "d": [True, False]}),
    pd.Series([1, 2], index=pd.Index(["a", "b"])),
    pd.Series(pd.Categorical(["a", "b", "a"])),
    pd.CategoricalIndex(["a", "b"]),
    pd.interval_range(0, 3), pd.Series(pd.arrays.IntervalArray.from_breaks([0, 1, 2])),
    pd.period_range("2020-01", periods=3, freq="M"), pd.Series(pd.period_range("2020", periods=2, freq="D")),
    pd.date_range("2020", periods=3), pd.date_range("2020", periods=3, tz="UTC"),
    pd.date_range("2020", periods=3, tz="Europe/Paris"),
    pd.Series(pd.date_range("2020", periods=3, tz="America/New_York")),
    pd.timedelta_range("1 day", periods=3), pd.Timestamp("2020-01-01", tz="UTC"), pd.Timedelta("1h"), pd.NaT, pd.NA,
    pd.Period("2020-01", freq="M"), pd.Interval(0, 1),
    pd.MultiIndex.from_product([["a", "b"], [1, 2]]),
    pd.DataFrame({"x": [1, 2, 3, 4]}, index=pd.MultiIndex.from_product([["a", "b"], [1, 2]])),
    pd.Series(pd.arrays.SparseArray([0, 0, 1])), pd.arrays.SparseArray([0.0, 1.0]),
    pd.Series([1, None], dtype="Int64"), pd.Series([1, None], dtype="UInt8"), pd.Series([1.0, None], dtype="Float64"),
    pd.Series([True, None], dtype="boolean"), pd.Series(["a", None], dtype="string"),
    pd.RangeIndex(5), pd.Index([1.5, 2.5]), pd.Index([1, 2], dtype="uint64"),
    pd.DataFrame({"t": pd.date_range("2020", periods=2, freq="H"), "p": pd.period_range("2020", periods=2, freq="Q")}),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="B")),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="W")),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="MS")),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="Q")),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="A")),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="T")),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="S")),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="L")),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="U")),
    pd.Series([1, 2], index=pd.date_range("2020", periods=2, freq="N")),
    pd.Series([1, 2], index=pd.timedelta_range("1s", periods=2)),
    pd.Series([complex(1, 2)]), pd.Series([b"x"]), pd.Series([[1], {"a": 1}]),
    pd.Series(pd.array([1, 2], dtype="Int32")),
    pd.DataFrame({"a": pd.Categorical(["x", "y"], ordered=True)}),
]
add_emitted(pd, samples, "emitted by pandas' own pickling of frames, series, indexes and extension arrays: rebuilds data")
for modname in ("pandas.core.arrays", "pandas.core.indexes", "pandas.core.dtypes.dtypes", "pandas.core.internals",
                "pandas.core.frame", "pandas.core.series", "pandas._libs.tslibs.offsets"):
    for mod in walk(modname) if hasattr(importlib.import_module(modname), "__path__") else [importlib.import_module(modname)]:
        for name, cls in defined_classes(mod):
            if issubclass(cls, BaseException):
                continue
            add("class", mod.__name__, name, pd, "pandas data class defined here (frame, series, index, extension array, dtype, block, date offset)")

# --- SciPy: sparse matrices and frozen distributions -----------------------
import scipy  # noqa: E402
import scipy.sparse  # noqa: E402
import scipy.stats  # noqa: E402
import scipy.interpolate  # noqa: E402

for name in ("BSpline", "PPoly"):
    cls = getattr(scipy.interpolate, name)
    add("class", cls.__module__, cls.__qualname__, scipy, "SciPy spline defined here (SplineTransformer holds them): knots and coefficients")

for mod in walk("scipy.sparse", ("scipy.sparse.linalg", "scipy.sparse.csgraph")):
    for name, cls in defined_classes(mod):
        if issubclass(cls, scipy.sparse.spmatrix) or name.endswith("_array"):
            add("class", mod.__name__, name, scipy, "SciPy sparse matrix defined here: its state is index and data arrays")
for mod in (scipy.stats._distn_infrastructure, scipy.stats._continuous_distns, scipy.stats._discrete_distns):
    for name, cls in defined_classes(mod):
        if issubclass(cls, (scipy.stats.rv_continuous, scipy.stats.rv_discrete)) or name in ("rv_continuous_frozen", "rv_discrete_frozen", "rv_frozen"):
            add("class", mod.__name__, name, scipy, "SciPy distribution defined here (search spaces of scikit-learn searches): holds shape parameters")
add_emitted(scipy, [scipy.sparse.random(3, 3, 0.5, format=f) for f in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok")]
            + [scipy.stats.uniform(0, 1), scipy.stats.randint(1, 5), scipy.stats.loguniform(1e-3, 1)],
            "emitted by SciPy's own pickling of sparse matrices and frozen distributions")

# --- XGBoost ---------------------------------------------------------------
import xgboost  # noqa: E402

for mod in (xgboost.core, xgboost.sklearn):
    for name, cls in defined_classes(mod):
        if name == "Booster" or issubclass(cls, xgboost.sklearn.XGBModel):
            add("class", mod.__name__, name, xgboost, "XGBoost model defined here: __setstate__ hands the saved model bytes to XGBoost's own parser")

out = sys.stdout
out.write("# Generated by scripts/gen-allowlist.py; do not edit. Python %s.\n" % sys.version.split()[0])
out.write("# kind\tmodule\tname\tlibrary\tversion\treason\n")
for (kind, module, name), (lib, version, reason) in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
    out.write("\t".join((kind, module, name, lib, version, reason)) + "\n")

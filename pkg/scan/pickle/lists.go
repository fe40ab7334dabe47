package pickle

import (
	"strings"
	"sync"

	"github.com/modelverify/modelverify/pkg/scan"
)

// ListVersion identifies the built-in allow and deny lists by the hash of
// their content (the generated allowlist.tsv and the curated lists of this
// file); reports, attestations and `modelverify version` carry it, so any
// change of the lists shows in every verdict made with them.
var ListVersion = listsHash()

// allowGroup is a set of exact module/name pairs with the reason they are
// safe: each is a class or rebuild function that real checkpoints reference,
// whose construction or call only builds data.
type allowGroup struct {
	reason string
	module string
	names  []string
}

var allowGroups = []allowGroup{
	{"PyTorch tensor and parameter rebuild functions: rebuild tensors from storages and metadata", "torch._utils", []string{
		"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
		"_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
		"_rebuild_sparse_csr_tensor", "_rebuild_nested_tensor", "_rebuild_meta_tensor_no_storage",
		"_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy", "_rebuild_from_type",
		"_rebuild_from_type_v2",
	}},
	{"PyTorch tensor subclass rebuild (Parameter and subclasses since torch 1.x)", "torch._tensor", []string{"_rebuild_from_type_v2", "_rebuild_from_type", "Tensor"}},
	{"PyTorch storage classes named by persistent ids", "torch", []string{
		"FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage",
		"ShortStorage", "CharStorage", "ByteStorage", "BoolStorage", "ComplexFloatStorage",
		"ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage",
		"QUInt2x4Storage", "UntypedStorage", "TypedStorage",
	}},
	{"PyTorch tensor type classes named by old (tar format) checkpoints", "torch", []string{
		"FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor", "ShortTensor",
		"CharTensor", "ByteTensor", "BoolTensor",
	}},
	{"PyTorch storage classes by module path", "torch.storage", []string{"UntypedStorage", "TypedStorage", "_LegacyStorage"}},
	{"PyTorch dtypes, layouts, memory formats and quantisation schemes: constants", "torch", []string{
		"float32", "float", "float64", "double", "float16", "half", "bfloat16", "uint8", "int8", "int16",
		"short", "int32", "int", "int64", "long", "bool", "complex32", "chalf", "complex64", "cfloat",
		"complex128", "cdouble", "quint8", "qint8", "qint32", "quint4x2", "quint2x4", "float8_e4m3fn",
		"float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "uint16", "uint32", "uint64",
		"strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "_mkldnn",
		"contiguous_format", "channels_last", "channels_last_3d", "preserve_format",
		"per_tensor_affine", "per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric",
		"per_channel_affine_float_qparams", "Size", "device", "Tensor", "dtype", "layout", "memory_format",
	}},
	{"PyTorch layout lookup by name used by legacy sparse pickles", "torch.serialization", []string{"_get_layout"}},
	{"PyTorch weight and spectral normalisation hooks stored on whole models: they hold a parameter name and numbers", "torch.nn.utils.weight_norm", []string{"WeightNorm"}},
	{"PyTorch weight and spectral normalisation hooks", "torch.nn.utils.spectral_norm", []string{"SpectralNorm", "SpectralNormStateDictHook", "SpectralNormLoadStateDictPreHook"}},
	{"PyTorch's wrapper of a module hook (the hook it wraps is a global judged on its own)", "torch.nn.modules.module", []string{"_WrappedHook"}},
	{"PyTorch parameter classes", "torch.nn.parameter", []string{"Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"}},
	{"PyTorch layers saved with torch.save(model): construction only sets attributes", "torch.nn.modules.linear", []string{"Linear", "Identity", "Bilinear", "LazyLinear", "NonDynamicallyQuantizableLinear"}},
	{"PyTorch activation functions that layers store as attributes (TransformerEncoderLayer.activation): pure tensor functions", "torch.nn.functional", []string{
		"relu", "gelu", "silu", "tanh", "sigmoid", "softmax", "log_softmax", "leaky_relu", "elu", "mish", "hardswish", "glu", "softplus", "relu6",
	}},
	{"PyTorch layers", "torch.nn.modules.conv", []string{"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"}},
	{"PyTorch layers", "torch.nn.modules.container", []string{"Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"}},
	{"PyTorch layers", "torch.nn.modules.activation", []string{"ReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "Softmax", "LeakyReLU", "ELU", "MultiheadAttention", "LogSoftmax", "Hardtanh", "ReLU6", "PReLU", "Softplus", "Mish", "Hardswish"}},
	{"PyTorch layers", "torch.nn.modules.normalization", []string{"LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm"}},
	{"PyTorch layers", "torch.nn.modules.batchnorm", []string{"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"}},
	{"PyTorch layers", "torch.nn.modules.dropout", []string{"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"}},
	{"PyTorch layers", "torch.nn.modules.sparse", []string{"Embedding", "EmbeddingBag"}},
	{"PyTorch layers", "torch.nn.modules.pooling", []string{"MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool2d"}},
	{"PyTorch layers", "torch.nn.modules.rnn", []string{"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"}},
	{"PyTorch layers", "torch.nn.modules.flatten", []string{"Flatten", "Unflatten"}},
	{"PyTorch layers", "torch.nn.modules.transformer", []string{"Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer"}},
	{"PyTorch loss modules", "torch.nn.modules.loss", []string{"CrossEntropyLoss", "MSELoss", "L1Loss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"}},
	{"NumPy array reconstruction (numpy < 2)", "numpy.core.multiarray", []string{"_reconstruct", "scalar"}},
	{"NumPy array reconstruction (numpy >= 2)", "numpy._core.multiarray", []string{"_reconstruct", "scalar"}},
	{"NumPy array from a bytes buffer", "numpy.core.numeric", []string{"_frombuffer"}},
	{"NumPy array from a bytes buffer (numpy >= 2)", "numpy._core.numeric", []string{"_frombuffer"}},
	{"NumPy core types", "numpy", []string{"ndarray", "dtype", "matrix", "bool_", "float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64", "complex64", "complex128"}},
	{"NumPy masked arrays", "numpy.ma.core", []string{"_mareconstruct", "MaskedArray", "MaskedConstant"}},
	{"NumPy random state constructors (sklearn estimators store RandomState)", "numpy.random._pickle", []string{"__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"}},
	{"NumPy random state classes", "numpy.random.mtrand", []string{"RandomState"}},
	{"NumPy bit generators", "numpy.random._mt19937", []string{"MT19937"}},
	{"NumPy bit generators", "numpy.random._pcg64", []string{"PCG64", "PCG64DXSM"}},
	{"NumPy dtype classes (numpy >= 1.25)", "numpy.dtypes", []string{"Float64DType", "Float32DType", "Float16DType", "Int64DType", "Int32DType", "Int16DType", "Int8DType", "UInt8DType", "UInt16DType", "UInt32DType", "UInt64DType", "BoolDType", "ObjectDType", "StrDType", "BytesDType", "Complex64DType", "Complex128DType"}},
	{"bytes at protocol <= 2: _codecs.encode(str, 'latin1') rebuilds a bytes object", "_codecs", []string{"encode"}},
	{"Python containers and plain values", "collections", []string{"OrderedDict", "defaultdict", "Counter", "deque"}},
	{"Python built-in types: constructing them only builds data", "builtins", []string{
		"set", "frozenset", "slice", "range", "complex", "bytearray", "bytes", "str", "int", "float",
		"bool", "dict", "list", "tuple", "object", "Ellipsis", "NotImplemented", "NoneType",
	}},
	{"object reconstruction helpers used by protocols 0-2 (the class argument is checked separately)", "copyreg", []string{"_reconstructor", "__newobj__", "__newobj_ex__"}},
	{"dates, times and numbers", "datetime", []string{"datetime", "date", "time", "timedelta", "timezone"}},
	{"exact decimal numbers", "decimal", []string{"Decimal"}},
	{"fractions", "fractions", []string{"Fraction"}},
	{"UUID values (the class, not the module's helpers)", "uuid", []string{"UUID", "SafeUUID"}},
	{"paths stored in training configs: construction does not touch the file system", "pathlib", []string{"PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath", "Path"}},
	{"argument namespaces stored in fairseq and other checkpoints", "argparse", []string{"Namespace"}},
	{"type annotation marker stored by OmegaConf metadata", "typing", []string{"Any"}},
	{"OmegaConf configs stored by Lightning and NeMo checkpoints", "omegaconf.dictconfig", []string{"DictConfig"}},
	{"OmegaConf configs", "omegaconf.listconfig", []string{"ListConfig"}},
	{"OmegaConf configs", "omegaconf.base", []string{"ContainerMetadata", "Metadata"}},
	{"OmegaConf configs", "omegaconf.nodes", []string{"AnyNode", "StringNode", "IntegerNode", "FloatNode", "BooleanNode", "EnumNode"}},
	{"NumPy math ufuncs stored as estimator parameters (FunctionTransformer(np.log1p)): pure functions of arrays", "numpy.core._multiarray_umath", numpyUfuncs},
	{"NumPy math ufuncs (numpy >= 2)", "numpy._core._multiarray_umath", numpyUfuncs},
	{"NumPy math ufuncs by their public path", "numpy", numpyUfuncs},
	{"scikit-learn tree and metric rebuild helpers: newObj(cls) only creates an empty instance of cls", "sklearn.neighbors._kd_tree", []string{"newObj"}},
	{"scikit-learn tree and metric rebuild helpers", "sklearn.neighbors._ball_tree", []string{"newObj"}},
	{"scikit-learn tree and metric rebuild helpers", "sklearn.metrics._dist_metrics", []string{"newObj"}},
	{"scikit-learn's default scorer stored by search objects (calls the estimator's own score)", "sklearn.metrics._scorer", []string{"_passthrough_scorer"}},
	{"joblib's wrapper for arrays stored raw after the pickle (the array bytes are skipped by size)", "joblib.numpy_pickle", []string{"NumpyArrayWrapper"}},
	{"pandas data: frames, series and their block managers; construction and __setstate__ only arrange arrays", "pandas.core.frame", []string{"DataFrame"}},
	{"pandas data", "pandas.core.series", []string{"Series"}},
	{"pandas data", "pandas.core.internals.managers", []string{"BlockManager", "SingleBlockManager"}},
	{"pandas block rebuild: wraps the pickled values in a block", "pandas._libs.internals", []string{"_unpickle_block"}},
	{"pandas extension arrays rebuild (Cython unpickle helper of NDArrayBacked)", "pandas._libs.arrays", []string{"__pyx_unpickle_NDArrayBacked"}},
	{"pandas indexes; _new_Index(cls, d) creates cls, itself a global judged on its own", "pandas.core.indexes.base", []string{"Index", "_new_Index"}},
	{"pandas indexes", "pandas.core.indexes.range", []string{"RangeIndex"}},
	{"pandas indexes", "pandas.core.indexes.multi", []string{"MultiIndex"}},
	{"pandas indexes", "pandas.core.indexes.category", []string{"CategoricalIndex"}},
	{"pandas indexes (pandas < 2)", "pandas.core.indexes.numeric", []string{"Int64Index", "UInt64Index", "Float64Index"}},
	{"pandas indexes; _new_DatetimeIndex(cls, d) creates cls, itself a global judged on its own", "pandas.core.indexes.datetimes", []string{"DatetimeIndex", "_new_DatetimeIndex"}},
	{"pandas extension arrays", "pandas.core.arrays.categorical", []string{"Categorical"}},
	{"pandas extension arrays", "pandas.core.arrays.datetimes", []string{"DatetimeArray"}},
	{"pandas extension arrays", "pandas.core.arrays.timedeltas", []string{"TimedeltaArray"}},
	{"pandas extension arrays", "pandas.core.arrays.string_", []string{"StringArray", "StringDtype"}},
	{"pandas extension arrays", "pandas.core.arrays.integer", []string{"IntegerArray", "Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype", "UInt16Dtype", "UInt32Dtype", "UInt64Dtype"}},
	{"pandas extension arrays", "pandas.core.arrays.floating", []string{"FloatingArray", "Float32Dtype", "Float64Dtype"}},
	{"pandas extension arrays", "pandas.core.arrays.boolean", []string{"BooleanArray", "BooleanDtype"}},
	{"pandas dtypes", "pandas.core.dtypes.dtypes", []string{"CategoricalDtype", "DatetimeTZDtype"}},
	{"pandas scalars: timestamps, timedeltas, NaT, NA, periods", "pandas._libs.tslibs.timestamps", []string{"_unpickle_timestamp", "Timestamp"}},
	{"pandas scalars", "pandas._libs.tslibs.timedeltas", []string{"_timedelta_unpickle", "Timedelta"}},
	{"pandas scalars", "pandas._libs.tslibs.nattype", []string{"__nat_unpickle"}},
	{"pandas scalars", "pandas._libs.missing", []string{"NA"}},
	{"pandas scalars", "pandas._libs.tslibs.period", []string{"Period"}},
	{"pandas date offsets (frequencies of indexes and periods): constructors take counts and flags", "pandas._libs.tslibs.offsets", []string{"Day", "Hour", "Minute", "Second", "Milli", "Micro", "Nano", "BusinessDay", "Week", "MonthEnd", "MonthBegin", "QuarterEnd", "QuarterBegin", "YearEnd", "YearBegin"}},
	{"pytz time zones of datetime data: _p looks a zone up by name among pytz's own zones", "pytz", []string{"_UTC", "_p", "utc"}},
	{"XGBoost boosters: __setstate__ hands the saved model bytes to XGBoost's own parser", "xgboost.core", []string{"Booster"}},
	{"XGBoost scikit-learn estimators: construction only stores parameters and the booster; callables they hold are globals judged on their own", "xgboost.sklearn", []string{"XGBModel", "XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor"}},
	{"SciPy sparse matrices", "scipy.sparse._csr", []string{"csr_matrix", "csr_array"}},
	{"SciPy sparse matrices", "scipy.sparse._csc", []string{"csc_matrix", "csc_array"}},
	{"SciPy sparse matrices", "scipy.sparse._coo", []string{"coo_matrix", "coo_array"}},
	{"SciPy sparse matrices", "scipy.sparse._bsr", []string{"bsr_matrix", "bsr_array"}},
	{"SciPy sparse matrices", "scipy.sparse._dia", []string{"dia_matrix", "dia_array"}},
	{"SciPy sparse matrices", "scipy.sparse._lil", []string{"lil_matrix", "lil_array"}},
	{"SciPy sparse matrices", "scipy.sparse._dok", []string{"dok_matrix", "dok_array"}},
	{"SciPy sparse matrices (scipy < 1.8 paths)", "scipy.sparse.csr", []string{"csr_matrix"}},
	{"SciPy sparse matrices (scipy < 1.8 paths)", "scipy.sparse.csc", []string{"csc_matrix"}},
	{"SciPy sparse matrices (scipy < 1.8 paths)", "scipy.sparse.coo", []string{"coo_matrix"}},
	{"SciPy distributions stored in sklearn search objects", "scipy.stats._distn_infrastructure", []string{"rv_continuous_frozen", "rv_discrete_frozen"}},
	{"Lightning hyper-parameter dicts stored in checkpoints (dict subclasses)", "pytorch_lightning.utilities.parsing", []string{"AttributeDict"}},
	{"Lightning hyper-parameter dicts", "lightning.pytorch.utilities.parsing", []string{"AttributeDict"}},
	{"Lightning hyper-parameter dicts", "lightning.fabric.utilities.data", []string{"AttributeDict"}},
	{"Hugging Face training arguments (training_args.bin)", "transformers.training_args", []string{"TrainingArguments", "OptimizerNames", "ParallelMode"}},
	{"Hugging Face training arguments", "transformers.training_args_seq2seq", []string{"Seq2SeqTrainingArguments"}},
	{"Hugging Face training argument enums", "transformers.trainer_utils", []string{"IntervalStrategy", "SchedulerType", "HubStrategy", "SaveStrategy", "EvaluationStrategy", "FSDPOption"}},
	{"Hugging Face training argument enums", "transformers.debug_utils", []string{"DebugOption"}},
	{"Hugging Face accelerator settings stored in training args", "transformers.trainer_pt_utils", []string{"AcceleratorConfig"}},
	{"Hugging Face generation config stored in training args", "transformers.generation.configuration_utils", []string{"GenerationConfig"}},
	{"Accelerate enums stored in training args", "accelerate.utils.dataclasses", []string{"DistributedType", "DeepSpeedPlugin", "GradientAccumulationPlugin"}},
	{"Accelerate state stored in training args", "accelerate.state", []string{"PartialState", "AcceleratorState"}},
}

// numpyUfuncs are NumPy's elementwise math functions.
var numpyUfuncs = []string{
	"absolute", "abs", "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "negative", "positive",
	"power", "float_power", "remainder", "mod", "fmod", "sqrt", "cbrt", "square", "reciprocal", "exp", "exp2", "expm1",
	"log", "log2", "log10", "log1p", "logaddexp", "logaddexp2", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
	"arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "deg2rad", "rad2deg", "floor", "ceil", "trunc",
	"rint", "sign", "maximum", "minimum", "fmax", "fmin", "hypot", "isnan", "isinf", "isfinite", "clip",
}

// criticalModules are modules (and all their submodules) whose globals give
// code execution, process control, file or network access, imports or
// deserialisation. A module rule covers its submodules: asyncio covers
// asyncio.unix_events.
var criticalModules = []string{
	// processes and the operating system
	"os", "posix", "nt", "subprocess", "_posixsubprocess", "pty", "commands", "popen2", "_winapi", "msvcrt", "signal", "platform",
	"_aix_support", "_osx_support", "multiprocessing", "_multiprocessing", "concurrent", "threading", "_thread", "thread", "asyncio",
	// code execution and introspection
	"runpy", "code", "codeop", "importlib", "imp", "zipimport", "pkgutil", "marshal", "types", "inspect",
	"ctypes", "_ctypes", "cffi", "sys", "gc", "timeit", "cProfile", "profile", "_lsprof", "pdb", "bdb", "trace", "tracemalloc",
	"pydoc", "doctest", "idlelib", "lib2to3", "_pyrepl", "pyrepl", "test", "unittest", "ensurepip", "venv", "pip", "setuptools",
	"distutils", "site", "sysconfig", "operator", "_operator", "functools", "_functools", "cloudpickle", "dill",
	// deserialisation
	"pickle", "_pickle", "cPickle", "pickletools", "shelve", "copy_reg", "jsonpickle", "yaml",
	// files
	"io", "_io", "shutil", "tempfile", "glob", "fileinput", "linecache", "logging", "zipfile", "tarfile", "sqlite3", "dbm",
	"mailbox", "mailcap", "filecmp",
	// network
	"socket", "_socket", "ssl", "socketserver", "SocketServer", "http", "httplib", "urllib", "urllib2", "urllib3", "requests",
	"aiohttp", "httpx", "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "nntplib", "xmlrpc", "xmlrpclib", "webbrowser",
	"paramiko", "smtpd", "asynchat", "asyncore",
	// dangerous corners of ML libraries
	"torch.hub", "torch.jit", "torch.package", "torch.utils.cpp_extension", "torch.utils.bottleneck", "torch.utils.collect_env",
	"torch.utils.data.datapipes", "torch.utils._config_module", "torch._dynamo", "torch._inductor", "torch.fx", "torch.distributed",
	"torch.multiprocessing", "torch._C", "torch.ops", "torch.testing", "torch.library", "torch.compiler", "torch.export",
	"numpy.f2py", "numpy.distutils", "numpy.testing", "numpy.ctypeslib", "numpy.lib.npyio", "numpy.load",
	"pandas.io", "keras", "tensorflow", "joblib.numpy_pickle_compat", "joblib.parallel", "joblib._parallel_backends",
	"IPython", "jupyter_client", "nbformat",
	// scanners and safety hooks: a pickle that imports them is trying to switch them off
	"picklescan", "fickling", "modelscan", "modelaudit", "modelverify",
}

// criticalNames are single globals that are critical in modules that are not
// critical as a whole.
var criticalNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{
		// builtins that evaluate, import, reach attributes or open files
		"builtins.eval", "builtins.exec", "builtins.compile", "builtins.open", "builtins.getattr",
		"builtins.setattr", "builtins.delattr", "builtins.__import__", "builtins.globals", "builtins.locals",
		"builtins.vars", "builtins.breakpoint", "builtins.input", "builtins.help", "builtins.exit", "builtins.quit",
		"builtins.apply", "builtins.execfile", "builtins.file", "builtins.reload", "builtins.memoryview",
		"builtins.super", "builtins.classmethod", "builtins.staticmethod", "builtins.property", "builtins.map",
		"builtins.filter", "builtins.__build_class__", "builtins.object.__reduce__",
		// nested loaders and network/file helpers of data libraries
		"torch.load", "torch.serialization.load", "torch.serialization._load", "pickle.load", "_pickle.load",
		"torch.from_file", "torch.save", "torch.serialization.save", "joblib.load", "joblib.dump", "numpy.load",
		"numpy.save", "numpy.fromfile", "numpy.loadtxt", "numpy.genfromtxt", "numpy.memmap", "numpy.tofile",
		"pandas.read_pickle", "pandas.read_csv", "pandas.read_json", "scipy.io.loadmat",
		"uuid._get_command_stdout", "uuid._popen", "copyreg.add_extension", "copyreg.remove_extension",
		"copyreg._inverted_registry", "copyreg._extension_registry", "copyreg.pickle", "collections.namedtuple",
		// openers of files for reading or writing (overwriting a file a
		// shell or Python reads later runs code)
		"codecs.open", "gzip.open", "gzip.GzipFile", "bz2.open", "bz2.BZ2File", "lzma.open", "lzma.LZMAFile",
		"tarfile.open", "tarfile.TarFile", "zipfile.ZipFile", "io.open", "io.FileIO", "_io.open",
	} {
		m[n] = true
	}
	return m
}()

// lookupEvals are evaluators that are clean only when called as a lookup of
// a name that the globals they are given hold: paddle.save pickles a
// static-graph LoDTensor as eval("data", {"data": array}). Any other use is
// critical, as for the other critical names.
var lookupEvals = map[string]bool{"builtins.eval": true, "__builtin__.eval": true}

// nestedLoaders deserialise their argument. A call with a literal byte
// string is judged by what the string holds; any other use is critical.
// Loaders that take a file or a path (torch.load, joblib.load, numpy.load,
// pickle.load) are not here: a literal argument names a file the scan cannot
// see, so they are critical names.
var nestedLoaders = map[string]bool{
	"pickle.loads": true, "_pickle.loads": true, "pickle._loads": true, "cPickle.loads": true,
	"dill.loads": true, "cloudpickle.loads": true, "torch.storage._load_from_bytes": true,
}

// dangerousAttrs are attribute names that, anywhere in a dotted name, reach
// interpreter internals or run code.
var dangerousAttrs = map[string]bool{
	"system": true, "popen": true, "Popen": true, "exec": true, "eval": true, "execfile": true, "compile": true,
	"__import__": true, "getattr": true, "spawn": true, "spawnl": true, "spawnv": true, "execv": true, "execve": true,
	"execl": true, "run": true, "call": true, "check_call": true, "check_output": true, "getoutput": true,
	"getstatusoutput": true, "load": true, "loads": true, "open": true, "runcode": true, "runsource": true,
	"run_path": true, "run_module": true, "import_module": true,
	// file access through path and archive objects (pathlib.Path.write_text)
	"write_text": true, "write_bytes": true, "read_text": true, "read_bytes": true, "unlink": true, "rmtree": true,
	"rename": true, "symlink_to": true, "hardlink_to": true, "touch": true, "chmod": true, "extractall": true,
}

// builtin holds the parsed allowlist: every exact module.name of
// allowGroups and of the generated list (allowed), and the module.Class.method
// entries of the generated list (methods). It is built on first use, so that
// commands that judge no pickle do not parse it at start.
type builtinLists struct {
	entries          []entry
	allowed, methods map[string]bool
}

var builtin = sync.OnceValue(func() *builtinLists {
	l := &builtinLists{entries: mustParseAllowlist(allowlistTSV), allowed: map[string]bool{}, methods: map[string]bool{}}
	for _, g := range allowGroups {
		for _, n := range g.names {
			l.allowed[g.module+"."+n] = true
		}
	}
	for _, e := range l.entries {
		if e.kind == "method" {
			l.methods[e.module+"."+e.name] = true
		} else {
			l.allowed[e.module+"."+e.name] = true
		}
	}
	return l
})

// verdictKind is how the VM treats a resolved global.
type verdictKind uint8

const (
	gAllowed  verdictKind = iota // on the allowlist: clean
	gUnknown                     // not on the allowlist: high
	gCritical                    // a known primitive: critical
	gDenied                      // denied by the user's policy: critical
	gLoader                      // a nested loader: judged by its argument
	gGetattr                     // builtins.getattr: judged by its arguments (a bound method of an allowed instance)
	gPartial                     // functools.partial: judged by its argument (an allowed global)
	gEval                        // builtins.eval: judged by its arguments (a name looked up in the globals given)
)

// classify judges the global module.name, name possibly a dotted attribute
// chain.
func classify(module, name string, policy *scan.Policy) (verdictKind, string) {
	sym := module + "." + name
	if policy.Denies(module, name) {
		return gDenied, "denied by policy"
	}
	if nestedLoaders[sym] {
		return gLoader, "deserialises its argument"
	}
	if sym == "builtins.getattr" || sym == "__builtin__.getattr" {
		return gGetattr, "reaches any attribute of its argument"
	}
	if sym == "functools.partial" {
		return gPartial, "wraps a callable"
	}
	if lookupEvals[sym] {
		return gEval, "evaluates its argument"
	}
	if why := criticalReason(module, name); why != "" {
		return gCritical, why
	}
	if builtin().allowed[sym] {
		return gAllowed, ""
	}
	if policy.Allows(module, name) {
		return gAllowed, ""
	}
	return gUnknown, "not on the allowlist"
}

// criticalReason says why module.name is critical, "" if it is not.
func criticalReason(module, name string) string {
	if module == "__builtin__" {
		module = "builtins" // the Python 2 name, remapped or not, is judged as what it names
	}
	sym := module + "." + name
	if criticalNames[sym] {
		return "a known code-execution, file, network or deserialisation primitive"
	}
	if m := coveringModule(sym); m != "" {
		return "in module " + m + ", which gives code execution, process, file, network or import access"
	}
	parts := strings.Split(name, ".")
	if len(parts) > 1 {
		for i, p := range parts {
			if strings.HasPrefix(p, "__") && strings.HasSuffix(p, "__") {
				return "reaches interpreter internals through " + p
			}
			// shutil + os.system: an attribute chain through another module
			if i < len(parts)-1 {
				if m := coveringModule(strings.Join(parts[i:], ".")); m != "" {
					return "reaches module " + m + " through an attribute chain"
				}
			}
			if dangerousAttrs[p] {
				return "reaches " + p + " through an attribute chain"
			}
			if criticalNames["builtins."+p] && i > 0 {
				return "reaches builtin " + p + " through an attribute chain"
			}
		}
	}
	if strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__") && name != "__newobj__" && name != "__newobj_ex__" &&
		!strings.HasPrefix(name, "__randomstate") && !strings.HasPrefix(name, "__bit_generator") && !strings.HasPrefix(name, "__generator") {
		return "a dunder attribute reaches interpreter internals"
	}
	return ""
}

// coveringModule returns the critical module rule that covers the dotted
// path sym (the module itself or a parent), "" if none.
func coveringModule(sym string) string {
	for _, m := range criticalModules {
		if sym == m || strings.HasPrefix(sym, m+".") {
			return m
		}
	}
	return ""
}

// CriticalReason says why importing module.name gives code execution,
// process, file, network or import access, and "" when it is not known to.
// Other formats that name Python callables (NeMo's hydra _target_ keys) judge
// them with the same lists as a pickle's globals.
func CriticalReason(module, name string) string { return criticalReason(module, name) }

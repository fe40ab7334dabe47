package pickle_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Each technique must be reported with the symbol CPython would resolve,
// the rule and the opcode that reaches it.
func TestTechniquesResolveAsCPythonDoes(t *testing.T) {
	tests := []struct {
		file         string
		rule, symbol string
		opcode       string
		severity     scan.Severity
	}{
		{"os_system_v0.pkl", scan.RuleDangerousGlobal, "posix.system", "GLOBAL", scan.SeverityCritical},
		{"os_system_v4.pkl", scan.RuleDangerousGlobal, "posix.system", "STACK_GLOBAL", scan.SeverityCritical},
		{"py2_builtin_eval_v0.pkl", scan.RuleDangerousGlobal, "builtins.eval", "GLOBAL", scan.SeverityCritical},
		{"py2_commands_getoutput_v2.pkl", scan.RuleDangerousGlobal, "subprocess.getoutput", "GLOBAL", scan.SeverityCritical},
		{"py2_urllib2_urlopen.pkl", scan.RuleDangerousGlobal, "urllib.request.urlopen", "GLOBAL", scan.SeverityCritical},
		{"proto_switch_remap.pkl", scan.RuleDangerousGlobal, "builtins.eval", "GLOBAL", scan.SeverityCritical},
		{"attr_chain_shutil_os_system.pkl", scan.RuleDangerousGlobal, "shutil.os.system", "STACK_GLOBAL", scan.SeverityCritical},
		{"attr_chain_allowed_module.pkl", scan.RuleDangerousGlobal, "collections.OrderedDict.__init__.__globals__", "STACK_GLOBAL", scan.SeverityCritical},
		{"stack_global_memo_text.pkl", scan.RuleDangerousGlobal, "os.system", "STACK_GLOBAL", scan.SeverityCritical},
		{"stack_global_escapes.pkl", scan.RuleDangerousGlobal, "os.system", "STACK_GLOBAL", scan.SeverityCritical},
		{"stack_global_computed.pkl", scan.RuleDynamicGlobal, "<computed>.system", "STACK_GLOBAL", scan.SeverityCritical},
		{"ext_registry.pkl", scan.RuleDangerousGlobal, "os.system", "EXT1", scan.SeverityCritical},
		{"second_pickle.pkl", scan.RuleDangerousGlobal, "posix.system", "STACK_GLOBAL", scan.SeverityCritical},
		{"reduce_then_garbage.pkl", scan.RuleDangerousGlobal, "posix.system", "STACK_GLOBAL", scan.SeverityCritical},
		{"inst_opcode.pkl", scan.RuleDangerousGlobal, "posix.system", "INST", scan.SeverityCritical},
		{"newobj_ex_popen.pkl", scan.RuleDangerousGlobal, "subprocess.Popen", "STACK_GLOBAL", scan.SeverityCritical},
		{"build_module_override.pkl", scan.RuleDynamicGlobal, "torch._utils", "BUILD", scan.SeverityCritical},
		{"reconstructor_popen.pkl", scan.RuleDangerousGlobal, "subprocess.Popen", "GLOBAL", scan.SeverityCritical},
		{"asyncio_submodule.pkl", scan.RuleDangerousGlobal, "asyncio.unix_events._UnixSubprocessTransport._start", "STACK_GLOBAL", scan.SeverityCritical},
		{"nested_load_from_bytes.pkl", scan.RuleNestedPickle, "torch.storage._load_from_bytes", "REDUCE", scan.SeverityCritical},
		{"nested_load_from_bytes.pkl", scan.RuleDangerousGlobal, "posix.system", "GLOBAL", scan.SeverityCritical},
		{"nested_pickle_loads_clean.pkl", scan.RuleNestedPickle, "_pickle.loads", "REDUCE", scan.SeverityHigh},
		{"nested_torch_load_nonliteral.pkl", scan.RuleDangerousGlobal, "torch.load", "STACK_GLOBAL", scan.SeverityCritical},
		{"nested_loader_escapes.pkl", scan.RuleNestedPickle, "pickle.loads", "STACK_GLOBAL", scan.SeverityCritical},
		{"nested_codecs_payload.pkl", scan.RuleDangerousGlobal, "posix.system", "GLOBAL", scan.SeverityCritical},
		{"joblib_after_array.joblib", scan.RuleDangerousGlobal, "posix.system", "STACK_GLOBAL", scan.SeverityCritical},
		{"joblib_payload_in_array_bytes.joblib", scan.RuleDangerousGlobal, "posix.system", "GLOBAL", scan.SeverityCritical},
	}
	for _, tt := range tests {
		t.Run(tt.file+" reports "+tt.symbol, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(fixtureDir("malicious"), tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := scanBytes(t, data, scan.Options{})
			for _, f := range got.Findings {
				if f.RuleID == tt.rule && f.Symbol == tt.symbol && f.Opcode == tt.opcode && f.Severity == tt.severity {
					return
				}
			}
			t.Errorf("no %s %s finding for %s via %s; got %+v", tt.severity, tt.rule, tt.symbol, tt.opcode, got.Findings)
		})
	}
}

// Quirks of CPython's unpicklers that a stricter parser would stop at, while
// CPython goes on and runs what follows.
func TestCPythonQuirksDoNotHideCalls(t *testing.T) {
	tests := []struct {
		name, data, symbol string
	}{
		{"the last line of a file needs no newline", "(S'id'\niposix\nsystem.", "posix.system"},
		{"a frame longer than the file is read as far as it goes", "\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00\x8c\x05posix\x8c\x06system\x93\x8c\x02id\x85R.", "posix.system"},
		{"an integer CPython's int() may read does not stop the scan", "I0x1_0\n0cposix\nsystem\n(S'id'\ntR.", "posix.system"},
		{"a clean nested load with --fail-on none still reports what it loads", "\x80\x02ctorch.storage\n_load_from_bytes\nC\x14\x80\x02cposix\nsystem\nN\x85R.\x85R.", "torch.storage._load_from_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scanBytes(t, []byte(tt.data), scan.Options{FailOn: scan.FailAt(scan.SeverityNone)})
			for _, f := range got.Findings {
				if f.Symbol == tt.symbol && f.Severity >= scan.SeverityHigh {
					return
				}
			}
			t.Errorf("%s not reported: verdict %s, findings %+v, error %q", tt.symbol, got.Verdict, got.Findings, got.Error)
		})
	}
}

// A joblib wrapper too broken for joblib to read still hides nothing from
// pickle.load, which parses what follows its BUILD as opcodes.
func TestBrokenJoblibWrapperIsReadAsPickleLoadWould(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtureDir("malicious"), "joblib_payload_in_array_bytes.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	broken := bytes.ReplaceAll(data, []byte("\x8c\x05numpy"), []byte("\x8c\x05nxmpy"))
	if bytes.Equal(broken, data) {
		t.Fatal("the fixture no longer names numpy")
	}
	got := scanBytes(t, broken, scan.Options{})
	for _, f := range got.Findings {
		if f.Symbol == "posix.system" && f.Severity == scan.SeverityCritical {
			return
		}
	}
	t.Errorf("posix.system after a broken wrapper not reported: %s %+v", got.Verdict, got.Findings)
}

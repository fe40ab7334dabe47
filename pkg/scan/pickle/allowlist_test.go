package pickle_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// Names that a pattern rule admitted, but that the modules only import from
// elsewhere (joblib's Memory creates its cache folder when constructed), are
// reported; getattr is critical unless it makes a bound method of an allowed
// instance built in the stream.
func TestReexportsAndGetattrAreReported(t *testing.T) {
	for _, c := range []struct {
		file, symbol string
		sev          scan.Severity
	}{
		{"reexport_sklearn_joblib_memory.pkl", "sklearn.utils._joblib.Memory", scan.SeverityHigh},
		{"reexport_sklearn_joblib_parallel.pkl", "sklearn.utils._joblib.Parallel", scan.SeverityHigh},
		{"reexport_sklearn_pathlib_path.pkl", "sklearn.utils.discovery.Path", scan.SeverityHigh},
		{"reexport_sklearn_string_template.pkl", "sklearn.utils._estimator_html_repr.Template", scan.SeverityHigh},
		{"reexport_torch_nn_removable_handle.pkl", "torch.nn.modules.module.RemovableHandle", scan.SeverityHigh},
		{"reexport_torch_nn_autograd_function.pkl", "torch.nn.modules._functions.Function", scan.SeverityHigh},
		{"getattr_on_global.pkl", "builtins.getattr", scan.SeverityCritical},
		{"getattr_unknown_method.pkl", "builtins.getattr", scan.SeverityCritical},
		{"getattr_on_string.pkl", "builtins.getattr", scan.SeverityCritical},
	} {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(fixtureDir("malicious"), c.file))
			if err != nil {
				t.Fatal(err)
			}
			got := scanBytes(t, data, scan.Options{})
			for _, f := range got.Findings {
				if f.Symbol == c.symbol && f.Severity == c.sev {
					return
				}
			}
			t.Errorf("no %s finding for %s; findings %+v", c.sev, c.symbol, got.Findings)
		})
	}
}

// A whole LR scheduler stores its own method (OneCycleLR.anneal_func) as
// getattr(scheduler, "_annealing_cos"): clean, with no finding about it.
func TestBoundMethodOfAllowedSchedulerIsClean(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtureDir("benign"), "torch_scheduler_onecycle_whole_legacy.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "_annealing_cos") || !strings.Contains(string(data), "getattr") {
		t.Fatal("fixture does not hold the bound method it is meant to test")
	}
	got := scanBytes(t, data, scan.Options{})
	if got.Verdict != scan.VerdictClean {
		t.Errorf("verdict %s, findings %+v", got.Verdict, got.Findings)
	}
	for _, f := range got.Findings {
		// the legacy format's raw storage bytes follow the pickles: low
		if f.Severity > scan.SeverityLow || f.Symbol != "" {
			t.Errorf("unexpected finding %+v", f)
		}
	}
}

// The lists version is the content hash, so it changes with any entry.
func TestListVersionIsAContentHash(t *testing.T) {
	if !strings.HasPrefix(pickle.ListVersion, "sha256:") || len(pickle.ListVersion) != len("sha256:")+16 {
		t.Errorf("ListVersion %q is not a content hash", pickle.ListVersion)
	}
}

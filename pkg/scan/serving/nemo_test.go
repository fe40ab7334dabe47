package serving_test

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/serving"
)

func formatFixture(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "fixtures", "formats", rel)
}

// The fixtures are written by fixtures/formats/make_nemo_paddle.py: NeMo's
// tar layout with weights from the real torch.save, and paddle.save's
// pickles of numpy state dicts.
func TestNemoAndPaddleFiles(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	cases := []struct {
		file, format string
		want         []string // every finding above info, as rules() prints them
	}{
		{"nemo/benign_asr.nemo", "nemo", nil},
		{"nemo/benign_asr_gzip.nemo", "gzip", nil},
		{"nemo/benign_model_parallel.nemo", "nemo", nil},
		{"nemo/evil_weights.nemo", "nemo", []string{
			"critical MV-PICKLE-DANGEROUS-GLOBAL ./model_weights.ckpt/archive/data.pkl posix.system"}},
		{"nemo/evil_weights_gzip.nemo", "gzip", []string{
			"critical MV-PICKLE-DANGEROUS-GLOBAL [gzip]/./model_weights.ckpt/archive/data.pkl posix.system"}},
		{"nemo/evil_rank_weights.nemo", "nemo", []string{
			"critical MV-PICKLE-DANGEROUS-GLOBAL ./mp_rank_01/model_weights.ckpt/archive/data.pkl posix.system"}},
		{"nemo/evil_pickle_artifact.nemo", "nemo", []string{
			"critical MV-PICKLE-DANGEROUS-GLOBAL ./0f1e2d3c4b5a69788796a5b4c3d2e1f0_tokenizer.pkl posix.system"}},
		// The config's first _target_ is past the first KiB: the tar hands
		// the config over by its name, not by a sniff of its head.
		{"nemo/evil_config_target.nemo", "nemo", []string{
			"critical MV-REMOTE-CODE ./model_config.yaml builtins.exec"}},
		{"paddle/benign_layer_p2.pdparams", "pickle", nil},
		{"paddle/benign_layer_p3.pdparams", "pickle", nil},
		{"paddle/benign_layer_p4.pdparams", "pickle", nil},
		{"paddle/benign_adam.pdopt", "pickle", nil},
		// Not a plain state dict: paddle's _pickle_save reductions.
		{"paddle/benign_nested_eager.pdparams", "pickle", nil},
		{"paddle/benign_nested_static.pdparams", "pickle", nil},
		{"paddle/benign_static_tensor_p2.pdparams", "pickle", nil},
		{"paddle/evil_eval_code.pdparams", "pickle", []string{"critical MV-PICKLE-DANGEROUS-GLOBAL  builtins.eval"}},
		{"paddle/evil_eval_builtin.pdparams", "pickle", []string{"critical MV-PICKLE-DANGEROUS-GLOBAL  builtins.eval"}},
		{"paddle/evil_system_p2.pdparams", "pickle", []string{"critical MV-PICKLE-DANGEROUS-GLOBAL  posix.system"}},
		{"paddle/evil_system_p4.pdparams", "pickle", []string{"critical MV-PICKLE-DANGEROUS-GLOBAL  posix.system"}},
		{"paddle/evil_scheduler.pdopt", "pickle", []string{"critical MV-PICKLE-DANGEROUS-GLOBAL  posix.system"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			tg := sc.ScanFile(context.Background(), formatFixture(c.file), c.file)
			var got []string
			for _, f := range tg.Findings {
				if f.Severity > scan.SeverityInfo {
					got = append(got, f.Severity.String()+" "+f.RuleID+" "+f.Member+" "+f.Symbol)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			want := scan.VerdictClean
			if c.want != nil {
				want = scan.VerdictDangerous
			}
			if tg.Verdict != want || tg.Format != c.format || tg.Error != "" {
				t.Errorf("verdict %s format %s error %q, want %s %s", tg.Verdict, tg.Format, tg.Error, want, c.format)
			}
		})
	}
}

func scanConfig(src string) scan.Target {
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	return sc.ScanReaderAt(context.Background(), "model_config.yaml", strings.NewReader(src), int64(len(src)))
}

func TestNemoConfig(t *testing.T) {
	cases := []struct {
		name, src string
		verdict   scan.Verdict
		want      []string
	}{
		{"NeMo's own targets are clean",
			"preprocessor:\n  _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor\ntarget: nemo.collections.asr.models.EncDecCTCModel\n",
			scan.VerdictClean, nil},
		{"a target outside NeMo is code that runs",
			"encoder:\n  _target_: my_pkg.layers.Encoder\n  dim: 4\n",
			scan.VerdictDangerous, []string{"high MV-REMOTE-CODE  my_pkg.layers.Encoder"}},
		{"a model class outside NeMo is code that runs",
			"x:\n  _target_: nemo.core.Thing\ntarget: evil_models.Model\n",
			scan.VerdictDangerous, []string{"high MV-REMOTE-CODE  evil_models.Model"}},
		{"a process call is critical, in a list too",
			"callbacks:\n- _target_: subprocess.Popen\n  args: [id]\n",
			scan.VerdictDangerous, []string{"critical MV-REMOTE-CODE  subprocess.Popen"}},
		{"torch.hub is no safer for being torch",
			"m:\n  _target_: torch.hub.load\n  repo_or_dir: attacker/repo\n",
			scan.VerdictDangerous, []string{"critical MV-REMOTE-CODE  torch.hub.load"}},
		{"an alias to a dangerous name is followed",
			"names:\n  x: &f builtins.eval\nm:\n  _target_: *f\n",
			scan.VerdictDangerous, []string{"critical MV-REMOTE-CODE  builtins.eval"}},
		{"an alias to the key is followed",
			"a:\n  _target_: nemo.c.D\nm:\n  &k _target_: nemo.a.B\nn:\n  *k : os.system\n",
			scan.VerdictDangerous, []string{"critical MV-REMOTE-CODE  os.system"}},
		{"an interpolated target cannot be judged by its text",
			"name: os.system\nm:\n  _target_: x\n  y:\n    _target_: ${name}\n",
			scan.VerdictDangerous, []string{"high MV-REMOTE-CODE  ${name}", "high MV-REMOTE-CODE  x"}},
		{"a nested target named target is not the model class",
			"m:\n  _target_: nemo.a.B\n  target: os.system\n",
			scan.VerdictClean, nil},
		{"broken YAML is malformed",
			"m:\n  _target_: nemo.a.B\n  x: [\n",
			scan.VerdictMalformed, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := scanConfig(c.src)
			var got []string
			for _, f := range tg.Findings {
				if f.Severity > scan.SeverityInfo {
					got = append(got, f.Severity.String()+" "+f.RuleID+" "+f.Member+" "+f.Symbol)
				}
			}
			if tg.Format != "nemo-config" || tg.Verdict != c.verdict || strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("format %s verdict %s findings %q, want %s %q", tg.Format, tg.Verdict, got, c.verdict, c.want)
			}
		})
	}
}

func TestNemoConfigMatch(t *testing.T) {
	for src, want := range map[string]bool{
		"a:\n  _target_: nemo.x.Y\n":                    true,
		"a:\n  _target_: 'nemo.x.Y'\n":                  true,
		"class C:\n    _target_: str = \"os.system\"\n": false, // a hydra structured config in Python
		"_target_:\n":               false,
		"x: 1\n\x00_target_: a.b\n": false,
		"target: nemo.x.Y\n":        false, // the head alone does not say NeMo
	} {
		if got := (serving.NemoConfig{}).Match([]byte(src), int64(len(src))); got != want {
			t.Errorf("Match(%q) = %v", src, got)
		}
	}
}

func TestIsNemo(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  bool
	}{
		{[]string{"./", "./model_config.yaml", "./model_weights.ckpt"}, true},
		{[]string{"model_config.yaml", "tp_rank_00_pp_rank_000/model_weights.ckpt"}, true},
		{[]string{"./model_config.yaml", "./model_weights/common.pt", "./model_weights/metadata.json"}, true},
		{[]string{"./model_config.yaml"}, false},
		{[]string{"sub/model_config.yaml", "sub/model_weights.ckpt"}, false},
	} {
		if got := serving.IsNemo(c.names); got != c.want {
			t.Errorf("IsNemo(%q) = %v", c.names, got)
		}
	}
}

func FuzzNemoConfig(f *testing.F) {
	f.Add([]byte("m:\n  _target_: nemo.a.B\n  l: [1, {_target_: os.system}]\ntarget: x.Y\n"))
	f.Add([]byte("a: &a [*a]\nm:\n  _target_: *a\n"))
	f.Add([]byte("_target_: ${a}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tg := (scan.MustNew(scan.Options{Formats: []scan.Format{serving.NemoConfig{}}})).ScanReaderAt(context.Background(), "c.yaml", bytes.NewReader(b), int64(len(b)))
		if tg.Verdict == "" {
			t.Fatal("no verdict")
		}
	})
}

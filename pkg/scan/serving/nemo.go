package serving

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/coderef"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// NemoConfig is a NeMo model_config.yaml: the OmegaConf config that
// restore_from reads before the weights. Its top-level "target" names the
// model class NeMo imports, and every "_target_" key names a callable that
// hydra.utils.instantiate imports and calls with the keys beside it.
//
// Match sees only the head, and a config's first "_target_" may lie further
// in; inside a .nemo archive the tar format hands the config here by its
// member name (see IsNemo), so only a loose config depends on Match.
type NemoConfig struct{}

var _ scan.Format = NemoConfig{}

// Name implements scan.Format.
func (NemoConfig) Name() string { return "nemo-config" }

// Match implements scan.Format: text without NUL bytes with a line that is
// a "_target_:" key (at any indentation, in a list or not) followed by a
// dotted Python name and nothing else, as OmegaConf writes it, or by an
// alias or an interpolation.
func (NemoConfig) Match(head []byte, size int64) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	for _, line := range bytes.Split(head, []byte("\n")) {
		line = bytes.TrimLeft(line, " ")
		for bytes.HasPrefix(line, []byte("- ")) {
			line = bytes.TrimLeft(line[2:], " ") // a mapping in a list
		}
		rest, ok := bytes.CutPrefix(line, []byte("_target_:"))
		if !ok {
			continue
		}
		v := strings.Trim(strings.TrimSpace(string(rest)), `'"`)
		if v != "" && (coderef.ValidModule(v) || strings.HasPrefix(v, "*") || strings.HasPrefix(v, "${")) {
			return true
		}
	}
	return false
}

// nemoPackages are the packages whose classes a NeMo config names as a
// matter of course: NeMo's own. Any other target is code the config makes
// NeMo import and call.
var nemoPackages = map[string]bool{"nemo": true}

// Scan implements scan.Format.
func (NemoConfig) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	if max := s.Limits().MaxHeaderBytes; size > max {
		return &scan.LimitError{Limit: "max-header-bytes", Max: max}
	}
	b := make([]byte, size)
	if n, err := r.ReadAt(b, 0); int64(n) < size {
		return fmt.Errorf("read: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return scan.Malformedf("NeMo config: %v", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return scan.Malformedf("NeMo config: not a YAML mapping")
	}
	w := nemoWalker{s: s, max: s.Limits().MaxNesting}
	return w.walk(doc.Content[0], "", 0)
}

type nemoWalker struct {
	s   *scan.Session
	max int
}

// walk reports the targets under n, whose key path is at. Aliases are not
// followed: the node they point to is walked where it is defined.
func (w *nemoWalker) walk(n *yaml.Node, at string, depth int) error {
	if depth > w.max {
		return &scan.LimitError{Limit: "max-nesting", Max: int64(w.max)}
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := w.walk(c, fmt.Sprintf("%s[%d]", at, i), depth+1); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias // an alias may name a key as well as a value
			}
			key := k.Value
			if at != "" {
				key = at + "." + k.Value
			}
			val := v
			if val.Kind == yaml.AliasNode && val.Alias != nil {
				val = val.Alias // PyYAML, which OmegaConf loads with, resolves aliases
			}
			if k.Kind == yaml.ScalarNode && val.Kind == yaml.ScalarNode &&
				(k.Value == "_target_" || k.Value == "target" && depth == 0) {
				w.judge(key, val.Value, v.Line)
				continue
			}
			if err := w.walk(v, key, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// judge reports one target: hydra's _locate imports the longest importable
// prefix of the dotted name and reads the rest as attributes.
func (w *nemoWalker) judge(key, target string, line int) {
	if target == "" {
		return
	}
	what := "NeMo imports it and calls it with the keys beside it when the model is restored"
	if key == "target" {
		what = "NeMo imports the class and builds the model with it when the model is restored"
	}
	if !coderef.ValidModule(target) {
		w.report(scan.SeverityHigh, target, fmt.Sprintf("%s (line %d) names %q, which is not a Python name: %s", key, line, target, what))
		return
	}
	mod, name := path.Split(strings.ReplaceAll(target, ".", "/"))
	mod = strings.ReplaceAll(strings.TrimSuffix(mod, "/"), "/", ".")
	if why := pickle.CriticalReason(mod, name); why != "" {
		w.report(scan.SeverityCritical, target, fmt.Sprintf("%s (line %d) names %s (%s): %s", key, line, target, why, what))
		return
	}
	if top, _, _ := strings.Cut(target, "."); nemoPackages[top] {
		return
	}
	w.report(scan.SeverityHigh, target, fmt.Sprintf("%s (line %d) names %s, outside NeMo: %s", key, line, target, what))
}

func (w *nemoWalker) report(sev scan.Severity, sym, msg string) {
	w.s.Report(scan.Finding{RuleID: scan.RuleRemoteCode, Severity: sev, Offset: -1, Symbol: sym, Message: msg})
}

// IsNemo reports whether the member names of a tar archive are those of a
// .nemo file: model_config.yaml at the root (NeMo adds the folder as ".",
// so names start with "./") and the weights as model_weights.ckpt, at the
// root or in model-parallel rank folders, or a sharded model_weights folder.
func IsNemo(names []string) bool {
	config, weights := false, false
	for _, n := range names {
		c := path.Clean("/" + n)[1:]
		switch {
		case c == "model_config.yaml":
			config = true
		case path.Base(c) == "model_weights.ckpt", strings.HasPrefix(c, "model_weights/"):
			weights = true
		}
	}
	return config && weights
}

// IsNemoConfig reports whether the tar member name is the config of a .nemo
// archive (see IsNemo).
func IsNemoConfig(name string) bool { return path.Clean("/"+name) == "/model_config.yaml" }

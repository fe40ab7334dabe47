// Package onnx scans ONNX models (protobuf ModelProto) without generated
// code: it walks the wire format in place with pbwalk, so initializers are
// skipped, not read.
//
// It reports what loading the model can do beyond arithmetic:
//   - external-data locations that are absolute, climb out of the model
//     folder with "..", or resolve through symlinks to somewhere outside it
//     (CVE-2022-25882 class: the runtime reads any file into a tensor);
//     inside the folder, the external file must exist, be a regular file and
//     hold the declared byte range;
//   - operators from domains other than the standard ONNX ones and those
//     bundled with ONNX Runtime (a custom operator needs a native library
//     registered by the application), and Python-calling operators;
//   - all of this in every graph: the main graph, If/Loop/Scan bodies held
//     in node attributes at any depth, model-local functions and training
//     graphs.
package onnx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/internal/pbwalk"
)

// Format is the ONNX model format.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "onnx" }

// modelFields are ModelProto's fields and their wire types.
var modelFields = map[protowire.Number]protowire.Type{
	1: protowire.VarintType, 2: protowire.BytesType, 3: protowire.BytesType, 4: protowire.BytesType,
	5: protowire.VarintType, 6: protowire.BytesType, 7: protowire.BytesType, 8: protowire.BytesType,
	14: protowire.BytesType, 20: protowire.BytesType, 25: protowire.BytesType,
}

// Match implements scan.Format. ONNX has no magic number; a ModelProto
// written by any ONNX library starts with ir_version (field 1), and every
// field in the first bytes must be a ModelProto field with its wire type,
// with printable producer and domain strings (which tells it apart from a
// TensorFlow SavedModel, whose field 2 is a message). After three such
// fields, anything else is ONNX that Scan finds malformed (or, for a field
// ONNX does not define, reads as protobuf does).
func (Format) Match(head []byte, size int64) bool {
	if len(head) < 4 || head[0] != 0x08 {
		return false
	}
	b := head
	fields := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			// Three well-formed ModelProto fields make it recognisably
			// ONNX: what follows them is Scan's to call malformed.
			return fields >= 3 || fields >= 2 && len(head) == scan.HeadSize
		}
		if want, ok := modelFields[num]; !ok || want != typ {
			return fields >= 3
		}
		if num == 1 && fields > 0 {
			// ir_version is a scalar: a repeated field 1 is a tensor's
			// dims (see Tensor).
			return false
		}
		b = b[n:]
		if typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return fields >= 1 && len(head) == scan.HeadSize
			}
			if num == 1 && (v == 0 || v > 100) {
				return false
			}
			b = b[m:]
		} else {
			l, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return false
			}
			b = b[m:]
			if l > uint64(len(b)) {
				// The field runs past the head (or the file is truncated,
				// which Scan reports).
				if num == 2 || num == 3 || num == 4 {
					return fields >= 1 && printable(b)
				}
				return fields >= 1
			}
			if (num == 2 || num == 3 || num == 4) && !printable(b[:l]) {
				return false
			}
			b = b[l:]
		}
		fields++
	}
	return fields >= 2
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' {
			return false
		}
	}
	return true
}

// standardDomains are the operator domains of ONNX itself and those ONNX
// Runtime ships kernels for.
var standardDomains = map[string]bool{
	"": true, "ai.onnx": true, "ai.onnx.ml": true, "ai.onnx.training": true,
	"ai.onnx.preview.training": true, "com.microsoft": true, "com.microsoft.nchwc": true,
	"com.microsoft.experimental": true, "com.ms.internal.nhwc": true, "org.pytorch.aten": true,
}

// pythonOps are operators whose kernel calls into Python.
var pythonOps = map[string]bool{"PythonOp": true, "PythonOpGrad": true, "PyOp": true, "PyFunc": true}

// maxString bounds names and strings read from the model.
const maxString = 1 << 20

type model struct {
	s     *scan.Session
	r     *pbwalk.Reader
	lim   scan.Limits
	dir   string
	ops   map[string]map[string]bool // domain -> op types used
	local map[string]bool            // domain/name of model-local functions
	pyops map[string]bool
}

// Scan implements scan.Format.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	m := &model{s: s, r: pbwalk.NewReader(r, size), lim: s.Limits(), dir: s.Dir(),
		ops: map[string]map[string]bool{}, local: map[string]bool{}, pyops: map[string]bool{}}
	err := m.r.Walk(0, size, func(f pbwalk.Field) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if want, ok := modelFields[f.Num]; ok && want != f.Type {
			return scan.Malformedf("onnx: ModelProto field %d at offset %d has wire type %d", f.Num, f.At, f.Type)
		}
		switch f.Num {
		case 7:
			return m.graph(ctx, f, 1)
		case 20: // TrainingInfoProto: initialization and algorithm graphs
			return m.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
				if (g.Num == 1 || g.Num == 2) && g.Type == protowire.BytesType {
					return m.graph(ctx, g, 2)
				}
				return nil
			})
		case 25:
			return m.function(ctx, f)
		}
		return nil
	})
	m.reportOps()
	return err
}

func (m *model) str(f pbwalk.Field) (string, error) {
	if f.Type != protowire.BytesType {
		return "", scan.Malformedf("onnx: string field %d at offset %d has wire type %d", f.Num, f.At, f.Type)
	}
	return m.r.String(f, maxString, "max-header-bytes")
}

func (m *model) deeper(depth int) error {
	if depth > m.lim.MaxNesting {
		return &scan.LimitError{Limit: "max-nesting", Max: int64(m.lim.MaxNesting)}
	}
	return nil
}

// graph walks a GraphProto.
func (m *model) graph(ctx context.Context, f pbwalk.Field, depth int) error {
	if err := m.deeper(depth); err != nil {
		return err
	}
	if f.Type != protowire.BytesType {
		return scan.Malformedf("onnx: graph at offset %d has wire type %d", f.At, f.Type)
	}
	return m.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch g.Num {
		case 1:
			return m.node(ctx, g, depth+1)
		case 5:
			return m.tensor(g, depth+1)
		case 15: // SparseTensorProto: values and indices tensors
			return m.sparse(g, depth+1)
		}
		return nil
	})
}

func (m *model) sparse(f pbwalk.Field, depth int) error {
	if err := m.deeper(depth); err != nil {
		return err
	}
	if f.Type != protowire.BytesType {
		return scan.Malformedf("onnx: sparse tensor at offset %d has wire type %d", f.At, f.Type)
	}
	return m.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		if g.Num == 1 || g.Num == 2 {
			return m.tensor(g, depth+1)
		}
		return nil
	})
}

// node walks a NodeProto: its operator and its attributes.
func (m *model) node(ctx context.Context, f pbwalk.Field, depth int) error {
	if err := m.deeper(depth); err != nil {
		return err
	}
	if f.Type != protowire.BytesType {
		return scan.Malformedf("onnx: node at offset %d has wire type %d", f.At, f.Type)
	}
	var op, domain string
	err := m.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		var err error
		switch g.Num {
		case 4:
			op, err = m.str(g)
		case 7:
			domain, err = m.str(g)
		case 5:
			err = m.attribute(ctx, g, depth+1)
		}
		return err
	})
	if m.ops[domain] == nil {
		m.ops[domain] = map[string]bool{}
	}
	m.ops[domain][op] = true
	return err
}

// attribute walks an AttributeProto for the tensors and graphs it holds.
func (m *model) attribute(ctx context.Context, f pbwalk.Field, depth int) error {
	if err := m.deeper(depth); err != nil {
		return err
	}
	if f.Type != protowire.BytesType {
		return scan.Malformedf("onnx: attribute at offset %d has wire type %d", f.At, f.Type)
	}
	return m.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		switch g.Num {
		case 5, 10:
			return m.tensor(g, depth+1)
		case 6, 11:
			return m.graph(ctx, g, depth+1)
		case 22, 23:
			return m.sparse(g, depth+1)
		}
		return nil
	})
}

// function walks a model-local FunctionProto.
func (m *model) function(ctx context.Context, f pbwalk.Field) error {
	var name, domain string
	err := m.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		var err error
		switch g.Num {
		case 1:
			name, err = m.str(g)
		case 10:
			domain, err = m.str(g)
		case 7:
			err = m.node(ctx, g, 2)
		}
		return err
	})
	m.local[domain+"/"+name] = true
	return err
}

// tensor checks a TensorProto's external data.
func (m *model) tensor(f pbwalk.Field, depth int) error {
	if err := m.deeper(depth); err != nil {
		return err
	}
	if f.Type != protowire.BytesType {
		return scan.Malformedf("onnx: tensor at offset %d has wire type %d", f.At, f.Type)
	}
	var name string
	ext := map[string]string{}
	external := false
	err := m.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		var err error
		switch g.Num {
		case 8:
			name, err = m.str(g)
		case 14:
			external = g.Type == protowire.VarintType && g.Value == 1
		case 13:
			var k, v string
			err = m.r.Walk(g.Off, g.Len, func(e pbwalk.Field) error {
				var err error
				switch e.Num {
				case 1:
					k, err = m.str(e)
				case 2:
					v, err = m.str(e)
				}
				return err
			})
			if err == nil {
				ext[k] = v
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if loc, ok := ext["location"]; ok || external {
		m.external(f.At, name, loc, ext)
	}
	return nil
}

// external judges an external-data reference.
func (m *model) external(at int64, tensor, loc string, ext map[string]string) {
	report := func(sev scan.Severity, msg string) {
		m.s.Report(scan.Finding{RuleID: scan.RuleExternalData, Severity: sev, Offset: at, Symbol: loc,
			Message: fmt.Sprintf("tensor %q: %s", tensor, msg)})
	}
	if loc == "" {
		m.s.ReportError("", scan.Malformedf("onnx: tensor %q at offset %d stored externally without a location", tensor, at))
		return
	}
	if strings.ContainsRune(loc, 0) {
		report(scan.SeverityHigh, "external-data location contains a NUL byte")
		return
	}
	if strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`) || filepath.IsAbs(loc) ||
		(len(loc) >= 2 && loc[1] == ':' && ((loc[0] >= 'A' && loc[0] <= 'Z') || (loc[0] >= 'a' && loc[0] <= 'z'))) {
		report(scan.SeverityHigh, fmt.Sprintf("external-data location %q is an absolute path: loading reads a file anywhere on the host", loc))
		return
	}
	if slices.Contains(strings.FieldsFunc(loc, func(r rune) bool { return r == '/' || r == '\\' }), "..") {
		report(scan.SeverityHigh, fmt.Sprintf("external-data location %q climbs out of the model folder", loc))
		return
	}
	if m.dir == "" {
		return // nested content or a stream: nothing on disk to resolve
	}
	p := filepath.Join(m.dir, filepath.FromSlash(strings.ReplaceAll(loc, `\`, "/")))
	root, err := filepath.EvalSymlinks(m.dir)
	if err != nil {
		return
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, lerr := os.Lstat(p); lerr == nil {
				report(scan.SeverityHigh, fmt.Sprintf("external-data location %q is a dangling symlink", loc))
				return
			}
			report(scan.SeverityLow, fmt.Sprintf("external-data file %q is missing", loc))
		}
		return
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		report(scan.SeverityHigh, fmt.Sprintf("external-data location %q resolves through a symlink to %s, outside the model folder", loc, real))
		return
	}
	fi, err := os.Stat(real)
	if err != nil {
		return
	}
	if !fi.Mode().IsRegular() {
		report(scan.SeverityHigh, fmt.Sprintf("external-data location %q is not a regular file (%s)", loc, fi.Mode().Type()))
		return
	}
	off, _ := strconv.ParseInt(ext["offset"], 10, 64)
	length := fi.Size() - off
	if l, ok := ext["length"]; ok {
		length, _ = strconv.ParseInt(l, 10, 64)
	}
	if off < 0 || length < 0 || off > fi.Size() || length > fi.Size()-off {
		m.s.ReportError("", scan.Malformedf("onnx: tensor %q external data [%s, +%s) outside the %d-byte file %q", tensor, ext["offset"], ext["length"], fi.Size(), loc))
	}
}

// reportOps reports custom operator domains once each, and Python-calling
// operators.
func (m *model) reportOps() {
	domains := make([]string, 0, len(m.ops))
	for d := range m.ops {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	for _, d := range domains {
		var custom []string
		for op := range m.ops[d] {
			if pythonOps[op] {
				m.s.Report(scan.Finding{RuleID: scan.RuleCustomOperator, Severity: scan.SeverityHigh, Offset: -1,
					Symbol: d + "." + op, Message: fmt.Sprintf("operator %s (domain %q) calls into Python", op, d)})
			}
			if !standardDomains[d] && !m.local[d+"/"+op] {
				custom = append(custom, op)
			}
		}
		if len(custom) == 0 {
			continue
		}
		slices.Sort(custom)
		m.s.Report(scan.Finding{RuleID: scan.RuleCustomOperator, Severity: scan.SeverityMedium, Offset: -1, Symbol: d,
			Message: fmt.Sprintf("custom operator domain %q (%s): loading needs a native operator library registered by the application", d, strings.Join(custom, ", "))})
	}
}

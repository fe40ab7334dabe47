// Package tfsaved scans TensorFlow SavedModel protobufs (saved_model.pb)
// without TensorFlow: it walks the wire format in place with pbwalk and
// reads the op of every node in every meta graph, in the graph itself and
// in every function of its function library, and the op list stripped into
// the meta graph's info.
//
// Loading a SavedModel runs its graph: ops that run Python (PyFunc,
// EagerPyFunc) are critical, ops that read, list or write files, open
// databases or send debug data (ReadFile, WriteFile, MatchingFiles, file
// readers and datasets, summary writers, PrintV2 to a file) are high.
// Checkpoint ops (SaveV2, RestoreV2, ...) are what every SavedModel uses to
// load its variables; they are reported only outside the saver functions.
//
// The format also recognises a bare GraphDef (a TensorFlow 1 frozen graph,
// judged like a SavedModel's graph), the SavedModel fingerprint (fingerprint.pb),
// which holds only hashes, and the Keras metadata that tf.keras saves next
// to saved_model.pb (keras_metadata.pb): one JSON config per layer, which
// Keras revives on load, Lambda bytecode included; each goes through
// package keras.
package tfsaved

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/internal/pbwalk"
	"github.com/modelverify/modelverify/pkg/scan/keras"
)

// Format is the SavedModel protobuf format.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "tf-savedmodel" }

// Match implements scan.Format: saved_model_schema_version 1 (or absent)
// followed by a MetaGraphDef whose first field is meta_info_def or
// graph_def; or a fingerprint (five varint hashes and a version message).
func (Format) Match(head []byte, size int64) bool {
	return matchSavedModel(head) || matchFingerprint(head) || matchKerasMetadata(head) || matchGraphDef(head)
}

// matchGraphDef recognises a bare GraphDef (a TensorFlow 1 frozen graph,
// frozen_inference_graph.pb): it starts with a node (field 1) whose name (1)
// and op (2) come first and are printable.
func matchGraphDef(b []byte) bool {
	if len(b) < 6 || b[0] != 0x0a {
		return false
	}
	_, n := protowire.ConsumeVarint(b[1:])
	if n < 0 {
		return false
	}
	b = b[1+n:]
	for _, tag := range []byte{0x0a, 0x12} {
		if len(b) < 2 || b[0] != tag {
			return false
		}
		l, m := protowire.ConsumeVarint(b[1:])
		if m < 0 || l == 0 || l > 1<<16 {
			return false
		}
		b = b[1+m:]
		s := b[:min(uint64(len(b)), l)]
		for _, c := range s {
			if c < 0x20 || c > 0x7e {
				return false
			}
		}
		if uint64(len(b)) < l {
			return len(s) > 0
		}
		b = b[l:]
	}
	return true
}

// matchKerasMetadata recognises SavedMetadata: repeated SavedObject nodes
// (node_id 1, node_path 2, identifier 3, metadata 4, version 5) whose
// identifier names a tf.keras object.
func matchKerasMetadata(b []byte) bool {
	if len(b) < 4 || b[0] != 0x0a {
		return false
	}
	_, n := protowire.ConsumeVarint(b[1:])
	if n < 0 {
		return false
	}
	b = b[1+n:]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num < 1 || num > 5 || (num == 1) != (typ == protowire.VarintType) || (num != 1 && typ != protowire.BytesType) {
			return false
		}
		b = b[n:]
		if typ == protowire.VarintType {
			_, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return false
			}
			b = b[m:]
			continue
		}
		l, m := protowire.ConsumeVarint(b)
		if m < 0 {
			return false
		}
		b = b[m:]
		if num == 3 {
			return bytes.HasPrefix(b[:min(uint64(len(b)), l)], []byte("_tf_keras"))
		}
		if l > uint64(len(b)) {
			return false
		}
		b = b[l:]
	}
	return false
}

func matchSavedModel(b []byte) bool {
	if len(b) >= 2 && b[0] == 0x08 {
		if b[1] != 0x01 {
			return false
		}
		b = b[2:]
	}
	if len(b) < 3 || b[0] != 0x12 {
		return false
	}
	_, n := protowire.ConsumeVarint(b[1:])
	if n < 0 || len(b) < 1+n+1 {
		return false
	}
	return b[1+n] == 0x0a || b[1+n] == 0x12
}

func matchFingerprint(b []byte) bool {
	want := []byte{0x08, 0x10, 0x18, 0x20, 0x28}
	for _, tag := range want {
		if len(b) == 0 {
			return false
		}
		if b[0] != tag {
			return false
		}
		_, n := protowire.ConsumeVarint(b[1:])
		if n < 0 {
			return false
		}
		b = b[1+n:]
	}
	return len(b) >= 1 && b[0] == 0x32
}

// Op severities.
var (
	pythonOps = set("PyFunc", "PyFuncStateless", "EagerPyFunc")
	fileOps   = set(
		"ReadFile", "WriteFile", "MatchingFiles", "MatchingFilesDataset", "ImmutableConst",
		"WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
		"FixedLengthRecordReader", "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2",
		"LMDBReader", "TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2",
		"FixedLengthRecordDataset", "FixedLengthRecordDatasetV2", "LMDBDataset", "ExperimentalLMDBDataset",
		"CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset", "SqlDataset", "ExperimentalSqlDataset",
		"LoadDataset", "SaveDataset", "SaveDatasetV2", "DatasetToTFRecord", "ExperimentalDatasetToTFRecord",
		"CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteRawProtoSummary",
		"DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary",
		"DebugNumericSummaryV2", "DecodeProtoV2", "EncodeProto", "SnapshotDataset", "SnapshotDatasetV2",
		"CacheDatasetV2",
	)
	// checkpointOps are used by every SavedModel's saver functions.
	checkpointOps = set("Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice",
		"MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec")
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

const maxString = 1 << 20

type walker struct {
	s    *scan.Session
	ra   io.ReaderAt
	r    *pbwalk.Reader
	lim  scan.Limits
	seen map[string]bool
}

// Scan implements scan.Format.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	head := make([]byte, min(size, 64))
	if _, err := r.ReadAt(head, 0); err != nil && int64(len(head)) != size {
		return fmt.Errorf("read: %w", err)
	}
	w := &walker{s: s, ra: r, r: pbwalk.NewReader(r, size), lim: s.Limits(), seen: map[string]bool{}}
	if matchKerasMetadata(head) {
		s.SetFormat("keras-metadata")
		return w.kerasMetadata(ctx)
	}
	if matchFingerprint(head) {
		s.SetFormat("tf-fingerprint")
		return w.r.Walk(0, size, func(pbwalk.Field) error { return nil })
	}
	if matchGraphDef(head) {
		s.SetFormat("tf-graphdef")
		return w.graph(ctx, pbwalk.Field{Type: protowire.BytesType, Off: 0, Len: size})
	}
	return w.r.Walk(0, size, func(f pbwalk.Field) error {
		if f.Num == 2 {
			return w.metaGraph(ctx, f)
		}
		return nil
	})
}

// kerasMetadata judges the JSON config of every node in keras_metadata.pb.
func (w *walker) kerasMetadata(ctx context.Context) error {
	return w.r.Walk(0, w.r.Size(), func(f pbwalk.Field) error {
		if f.Num != 1 {
			return nil
		}
		if err := w.msg(f, "saved object"); err != nil {
			return err
		}
		var path string
		var meta pbwalk.Field
		err := w.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
			var err error
			switch g.Num {
			case 2:
				path, err = w.str(g)
			case 4:
				err = w.msg(g, "metadata")
				meta = g
			}
			return err
		})
		if err != nil || meta.Len == 0 {
			return err
		}
		if meta.Len > w.lim.MaxHeaderBytes {
			return &scan.LimitError{Limit: "max-header-bytes", Max: w.lim.MaxHeaderBytes}
		}
		_, err = keras.AnalyzeConfig(ctx, w.s, path, io.NewSectionReader(w.ra, meta.Off, meta.Len))
		return err
	})
}

func (w *walker) msg(f pbwalk.Field, what string) error {
	if f.Type != protowire.BytesType {
		return scan.Malformedf("savedmodel: %s at offset %d has wire type %d", what, f.At, f.Type)
	}
	return nil
}

func (w *walker) str(f pbwalk.Field) (string, error) {
	if err := w.msg(f, "string"); err != nil {
		return "", err
	}
	return w.r.String(f, maxString, "max-header-bytes")
}

func (w *walker) metaGraph(ctx context.Context, f pbwalk.Field) error {
	if err := w.msg(f, "meta graph"); err != nil {
		return err
	}
	return w.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		switch g.Num {
		case 1: // MetaInfoDef: stripped_op_list (2) -> OpList.op (1) -> OpDef.name (1)
			if err := w.msg(g, "meta info"); err != nil {
				return err
			}
			return w.r.Walk(g.Off, g.Len, func(h pbwalk.Field) error {
				if h.Num != 2 {
					return nil
				}
				if err := w.msg(h, "op list"); err != nil {
					return err
				}
				return w.r.Walk(h.Off, h.Len, func(op pbwalk.Field) error {
					if op.Num != 1 {
						return nil
					}
					name, err := w.opDefName(op)
					if err == nil {
						w.judge(name, "", "stripped op list", op.At, "")
					}
					return err
				})
			})
		case 2:
			return w.graph(ctx, g)
		}
		return nil
	})
}

func (w *walker) opDefName(f pbwalk.Field) (string, error) {
	if err := w.msg(f, "op def"); err != nil {
		return "", err
	}
	var name string
	err := w.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		var err error
		if g.Num == 1 {
			name, err = w.str(g)
		}
		return err
	})
	return name, err
}

// graph walks a GraphDef: nodes (1) and the function library (2).
func (w *walker) graph(ctx context.Context, f pbwalk.Field) error {
	if err := w.msg(f, "graph"); err != nil {
		return err
	}
	return w.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch g.Num {
		case 1:
			return w.node(g, "")
		case 2:
			if err := w.msg(g, "function library"); err != nil {
				return err
			}
			return w.r.Walk(g.Off, g.Len, func(h pbwalk.Field) error {
				if h.Num == 1 {
					return w.function(ctx, h)
				}
				return nil
			})
		}
		return nil
	})
}

// function walks a FunctionDef: signature (1) names it, node_def (3).
func (w *walker) function(ctx context.Context, f pbwalk.Field) error {
	if err := w.msg(f, "function"); err != nil {
		return err
	}
	var name string
	var nodes []pbwalk.Field
	err := w.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		var err error
		switch g.Num {
		case 1:
			name, err = w.opDefName(g)
		case 3:
			nodes = append(nodes, g)
			if len(nodes) > 1<<20 {
				return &scan.LimitError{Limit: "max-entries", Max: 1 << 20}
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.node(n, name); err != nil {
			return err
		}
	}
	return nil
}

// node reads a NodeDef's name (1), op (2) and, for PrintV2, where it prints.
func (w *walker) node(f pbwalk.Field, function string) error {
	if err := w.msg(f, "node"); err != nil {
		return err
	}
	var name, op, stream string
	err := w.r.Walk(f.Off, f.Len, func(g pbwalk.Field) error {
		var err error
		switch g.Num {
		case 1:
			name, err = w.str(g)
		case 2:
			op, err = w.str(g)
		case 5: // attr map entry: key (1), AttrValue (2) with s (2)
			var key string
			var value pbwalk.Field
			err = w.r.Walk(g.Off, g.Len, func(e pbwalk.Field) error {
				var err error
				switch e.Num {
				case 1:
					key, err = w.str(e)
				case 2:
					value = e
				}
				return err
			})
			if err == nil && key == "output_stream" && value.Type == protowire.BytesType {
				err = w.r.Walk(value.Off, value.Len, func(v pbwalk.Field) error {
					var err error
					if v.Num == 2 {
						stream, err = w.str(v)
					}
					return err
				})
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	where := "graph"
	if function != "" {
		where = "function " + function
	}
	w.judge(op, name, where, f.At, stream)
	return nil
}

// judge reports an op once per place.
func (w *walker) judge(op, node, where string, at int64, stream string) {
	var sev scan.Severity
	var why string
	switch {
	case pythonOps[op]:
		sev, why = scan.SeverityCritical, "runs Python code"
	case fileOps[op]:
		sev, why = scan.SeverityHigh, "reads or writes files, databases or debug sinks"
	case op == "PrintV2" && stream != "" && !slices.Contains([]string{"stderr", "stdout", "log(info)", "log(warning)", "log(error)"}, stream):
		sev, why = scan.SeverityHigh, fmt.Sprintf("prints to %q", stream)
	case checkpointOps[op] && where != "stripped op list" && !isSaverPlace(where, node):
		sev, why = scan.SeverityMedium, "reads or writes checkpoint files outside the saver"
	default:
		return
	}
	key := op + "|" + where
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	msg := fmt.Sprintf("op %s in %s %s", op, where, why)
	if node != "" {
		msg = fmt.Sprintf("op %s (node %q) in %s %s", op, node, where, why)
	}
	w.s.Report(scan.Finding{RuleID: scan.RuleTFDangerousOp, Severity: sev, Offset: at, Symbol: op, Message: msg})
}

// isSaverPlace reports whether checkpoint ops sit where TensorFlow's own
// saver puts them: TF2 traced save/restore functions, or TF1 "save/" nodes.
func isSaverPlace(where, node string) bool {
	fn, ok := strings.CutPrefix(where, "function ")
	if ok {
		return strings.Contains(fn, "_traced_save") || strings.Contains(fn, "_traced_restore") ||
			strings.Contains(fn, "save_fn") || strings.Contains(fn, "restore_fn")
	}
	return node == "" || strings.HasPrefix(node, "save/") || strings.Contains(node, "/save/") ||
		strings.HasPrefix(node, "save_") || strings.HasPrefix(node, "saver")
}

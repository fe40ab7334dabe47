package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2"

	"github.com/modelverify/modelverify/pkg/manifest"
)

func readFixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixture(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Content that is recognisably a model format but does not parse
// completely, and content named like a model that no format recognises,
// exit 2 and say why; a payload before the break still exits 1.
func TestScanOfMalformedModelsExits2(t *testing.T) {
	le64 := func(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	torchZip := readFixture(t, "demo", "tiny-mlp", "pytorch_model.bin")
	onnxModel := readFixture(t, "formats", "onnx", "benign_add.onnx")
	cases := []struct {
		name, file string
		data       []byte
		code       int
		msg        string
	}{
		{"a safetensors header that is not JSON", "model.safetensors",
			cat(le64(16), []byte(`{"a": not json!}`), make([]byte, 8)), 2, "safetensors header: invalid character"},
		{"a safetensors header longer than the file", "model.safetensors",
			cat(le64(4096), []byte(`{"__metadata__":{}}`)), 2, "runs past the end of the 27-byte file"},
		{"an ONNX model cut short", "model.onnx", onnxModel[:len(onnxModel)/2], 2, "protobuf: field 7"},
		{"an ONNX model with an undecodable byte after it", "model.onnx", append(bytes.Clone(onnxModel), 0x0f), 2, "unsupported wire type 7"},
		{"a PyTorch zip without its end record", "pytorch_model.bin",
			torchZip[:bytes.LastIndex(torchZip, []byte("PK\x05\x06"))], 2, "zip has no end of central directory record"},
		{"a PyTorch zip without its central directory", "model.pt",
			torchZip[:bytes.Index(torchZip, []byte("PK\x01\x02"))], 2, "zip has no end of central directory record"},
		{"a pickle FRAME longer than the file", "model.pkl",
			cat([]byte("\x80\x04\x95"), le64(1<<20), []byte("}\x94.")), 2, "FRAME declares 1048576 bytes, 3 left"},
		{"a dangerous pickle in a FRAME longer than the file", "model.pkl",
			cat([]byte("\x80\x04\x95"), le64(1<<20), []byte("\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.")), 1, "posix.system"},
		{"text named .pt", "model.pt", []byte("# not a model\n"), 2, "named like a model (.pt) but no format recognises its content"},
		{"a PNG named .safetensors", "model.safetensors", []byte("\x89PNG\r\n\x1a\n"), 2, "named like a model (.safetensors)"},
		{"an empty .gguf", "model.gguf", nil, 2, "named like a model (.gguf)"},
		{"raw bytes named .bin with no file describing them", "weights.bin", []byte("\x00\x01\x02\x03"), 2, "named like a model (.bin)"},
		{"text named .txt is still unsupported", "notes.txt", []byte("# not a model\n"), 0, "not read as a model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), c.file)
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := runCLI(t, "scan", p)
			if code != c.code || !strings.Contains(out, c.msg) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, c.code, c.msg, out, errOut)
			}
			if c.code == 2 && !strings.Contains(out, "ERROR    MV-MALFORMED "+p+": ") {
				t.Errorf("no ERROR line for the file:\n%s", out)
			}
		})
	}
}

// ONNX external data is a raw .bin next to its model: the folder passes.
func TestScanOfONNXWithExternalDataPasses(t *testing.T) {
	out, errOut, code := runCLI(t, "scan", fixture("formats", "onnx", "benign_external"))
	if code != 0 {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}
}

// A scan under which no file was found exits 2 and says "nothing scanned"
// in every output format.
func TestScanOfNothingExits2(t *testing.T) {
	empty := t.TempDir()
	missing := filepath.Join(t.TempDir(), "models", "*.safetensors")
	ben := fixture("pickle", "benign", "plain_v4.pkl")
	for _, c := range []struct {
		name  string
		paths []string
		why   string
	}{
		{"an empty folder", []string{empty}, "nothing scanned: no file found"},
		{"a pattern that matched nothing", []string{missing}, "nothing scanned: stat " + missing + ": no such file or directory"},
		{"an empty folder beside a clean file", []string{ben, empty}, "nothing scanned: no file found"},
	} {
		bad := c.paths[len(c.paths)-1]
		t.Run(c.name+", text", func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"scan"}, c.paths...)...)
			if code != 2 || !strings.Contains(out, "ERROR    MV-NOTHING-SCANNED "+bad+": "+c.why+"\n") ||
				!strings.Contains(out, "nothing scanned in "+bad+"\n") {
				t.Errorf("exit %d:\n%s%s", code, out, errOut)
			}
		})
		t.Run(c.name+", json", func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"scan", "--format", "json"}, c.paths...)...)
			var rep struct {
				Targets []struct {
					Path, Format, Verdict, Error string
					Findings                     []struct{ RuleID, Message string }
				}
				Summary struct{ Targets, Malformed, Clean int }
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 2 {
				t.Fatalf("exit %d, %v:\n%s%s", code, err, out, errOut)
			}
			found := false
			for _, tg := range rep.Targets {
				if tg.Path == bad {
					found = tg.Format == "none" && tg.Verdict == "malformed" && tg.Error == c.why &&
						len(tg.Findings) == 1 && tg.Findings[0].RuleID == "MV-NOTHING-SCANNED" && tg.Findings[0].Message == c.why
				}
			}
			if !found || rep.Summary.Targets != len(c.paths) || rep.Summary.Malformed != 1 || rep.Summary.Clean != len(c.paths)-1 {
				t.Errorf("report:\n%s", out)
			}
		})
		t.Run(c.name+", sarif", func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"scan", "--format", "sarif"}, c.paths...)...)
			var log struct {
				Runs []struct {
					Invocations []struct {
						ExecutionSuccessful bool
						ExitCode            int
					}
					Results []struct {
						RuleID  string
						Message struct{ Text string }
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &log); err != nil || code != 2 || len(log.Runs) != 1 {
				t.Fatalf("exit %d, %v:\n%s%s", code, err, out, errOut)
			}
			r := log.Runs[0]
			if len(r.Invocations) != 1 || r.Invocations[0].ExecutionSuccessful || r.Invocations[0].ExitCode != 2 ||
				len(r.Results) != 1 || r.Results[0].RuleID != "MV-NOTHING-SCANNED" || r.Results[0].Message.Text != c.why {
				t.Errorf("SARIF:\n%s", out)
			}
		})
	}
}

// An OCI artifact without a file (oras packs the empty descriptor as its
// only layer) exits 2 and says nothing was scanned.
func TestScanOfAnArtifactWithoutFilesExits2(t *testing.T) {
	ctx := context.Background()
	ref := "oci-layout://" + filepath.Join(t.TempDir(), "layout") + ":v1"
	r, err := manifest.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	target, err := manifest.Open(ctx, r, manifest.RegistryOptions{CreateLayout: true})
	if err != nil {
		t.Fatal(err)
	}
	md, err := oras.PackManifest(ctx, target, oras.PackManifestVersion1_1, "application/vnd.example.thing", oras.PackManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Tag(ctx, md, "v1"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "scan", ref)
	if code != 2 || !strings.Contains(out, "ERROR    MV-NOTHING-SCANNED "+ref+": nothing scanned: the artifact has no layer\n") {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}
}

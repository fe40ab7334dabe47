package safetensors_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/safetensors"
)

func dir() string { return filepath.Join("..", "..", "..", "fixtures", "containers") }

func TestValidate(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(dir(), "benign", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Validate(bytes.NewReader(good), int64(len(good)), 1<<20); err != nil {
		t.Errorf("valid file rejected: %v", err)
	}
	lies, _ := filepath.Glob(filepath.Join(dir(), "malformed", "*.safetensors"))
	if len(lies) < 8 {
		t.Fatalf("only %d malformed fixtures", len(lies))
	}
	for _, p := range lies {
		t.Run(filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			err = safetensors.Validate(bytes.NewReader(b), int64(len(b)), 1<<20)
			if !errors.Is(err, safetensors.ErrHeader) || !errors.Is(err, scan.ErrMalformed) {
				t.Errorf("got %v, want a header error", err)
			}
		})
	}
}

func TestHeaderLimit(t *testing.T) {
	b := append([]byte{0, 0, 0x10, 0, 0, 0, 0, 0}, '{', '}')
	b = append(b, make([]byte, 1<<20)...)
	err := safetensors.Validate(bytes.NewReader(b), int64(len(b)), 1024)
	var le *scan.LimitError
	if !errors.As(err, &le) || le.Limit != "max-header-bytes" {
		t.Errorf("got %v", err)
	}
}

func TestLyingHeaderIsMalformedNotDangerous(t *testing.T) {
	b, _ := os.ReadFile(filepath.Join(dir(), "malformed", "overlap.safetensors"))
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	tg := sc.ScanReaderAt(context.Background(), "t", bytes.NewReader(b), int64(len(b)))
	if tg.Format != "safetensors" || tg.Verdict != scan.VerdictMalformed {
		t.Errorf("format %s verdict %s", tg.Format, tg.Verdict)
	}
}

func FuzzValidate(f *testing.F) {
	all, _ := filepath.Glob(filepath.Join(dir(), "*", "*.safetensors"))
	for _, p := range all {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := safetensors.Validate(bytes.NewReader(b), int64(len(b)), 1<<20)
		if err != nil && !errors.Is(err, scan.ErrMalformed) && !errors.Is(err, scan.ErrLimit) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

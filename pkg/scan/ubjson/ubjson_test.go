package ubjson_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/ubjson"
)

// xgboostModels are the models XGBoost wrote with save_model("*.ubj")
// (scripts/benign-corpus.py).
func xgboostModels(t testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "fixtures", "benign-corpus", "xgboost", "*.ubj"))
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// handMade covers what XGBoost's own files may not: typed and counted
// containers, no-op markers, high-precision numbers.
var handMade = [][]byte{
	[]byte("{}"),
	[]byte("{i\x01aSi\x02xy}"),
	[]byte("{#i\x02i\x01aTi\x01b[$d#i\x02\x00\x00\x00\x00\x3f\x80\x00\x00"),
	[]byte("{$Z#i\x02i\x01ai\x01b"),
	[]byte("{i\x01a[NU\x05Hi\x031.5C\x41]N}"),
}

func TestValidDocumentsAreClean(t *testing.T) {
	models := xgboostModels(t)
	if len(models) == 0 {
		t.Fatal("no XGBoost .ubj fixtures")
	}
	for i, b := range append(models, handMade[:4]...) {
		if !(ubjson.Format{}).Match(b, int64(len(b))) {
			t.Errorf("document %d not matched", i)
		}
		if err := ubjson.Validate(context.Background(), bytes.NewReader(b), int64(len(b))); err != nil {
			t.Errorf("document %d: %v", i, err)
		}
	}
	b := handMade[4]
	if err := ubjson.Validate(context.Background(), bytes.NewReader(b), int64(len(b))); err != nil {
		t.Errorf("no-op and high-precision markers: %v", err)
	}
}

// TestBrokenDocumentsAreMalformed cuts every XGBoost model at every length
// and checks that the scanner says malformed, never clean.
func TestBrokenDocumentsAreMalformed(t *testing.T) {
	cases := map[string][]byte{
		"trailing bytes":        []byte("{}{}"),
		"unknown marker":        []byte("{i\x01aQ}"),
		"negative length":       []byte("{i\x01aSi\xff}"),
		"key without a length":  []byte("{Sa}"),
		"length past the end":   []byte("{i\x01aSL\x00\x00\x00\x00\x7f\xff\xff\xff}"),
		"huge count, few bytes": []byte("{i\x01a[#L\x7f\xff\xff\xff\xff\xff\xff\xffi\x01}"),
		"typed without a count": []byte("{i\x01a[$i]}"),
	}
	for name, b := range cases {
		err := ubjson.Validate(context.Background(), bytes.NewReader(b), int64(len(b)))
		if !errors.Is(err, scan.ErrMalformed) {
			t.Errorf("%s: %v, want malformed", name, err)
		}
	}
	for _, m := range xgboostModels(t) {
		for n := 0; n < len(m); n++ {
			if err := ubjson.Validate(context.Background(), bytes.NewReader(m[:n]), int64(n)); !errors.Is(err, scan.ErrMalformed) {
				t.Fatalf("cut at %d of %d: %v, want malformed", n, len(m), err)
			}
		}
	}
}

func TestDepthIsLimited(t *testing.T) {
	b := append([]byte("{i\x01a"), bytes.Repeat([]byte("["), ubjson.MaxDepth+1)...)
	b = append(b, bytes.Repeat([]byte("]"), ubjson.MaxDepth+1)...)
	b = append(b, '}')
	err := ubjson.Validate(context.Background(), bytes.NewReader(b), int64(len(b)))
	var le *scan.LimitError
	if !errors.As(err, &le) || le.Limit != "ubjson-depth" {
		t.Fatalf("%v, want the depth limit", err)
	}
}

func FuzzValidate(f *testing.F) {
	for _, b := range append(xgboostModels(f), handMade...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := ubjson.Validate(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil && !errors.Is(err, scan.ErrMalformed) && !errors.Is(err, scan.ErrLimit) {
			t.Fatalf("untyped error %v", err)
		}
		(ubjson.Format{}).Match(b, int64(len(b)))
	})
}

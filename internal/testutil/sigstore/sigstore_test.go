package sigstore

import (
	"encoding/hex"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
)

func TestBundleEntriesVerifyAgainstTheWrittenRoot(t *testing.T) {
	s := New(t)
	tr, err := root.NewTrustedRootFromJSON(s.TrustedRootJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(s.Bundle(t, "a@example.com", "https://issuer.example", []byte(`{"_type":"https://in-toto.io/Statement/v1"}`))); err != nil {
		t.Fatal(err)
	}
	entries, err := b.TlogEntries()
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries %v, %v", entries, err)
	}
	e := entries[0]
	key := hex.EncodeToString([]byte(e.LogKeyID()))
	if _, ok := tr.RekorLogs()[key]; !ok {
		var have []string
		for k := range tr.RekorLogs() {
			have = append(have, k)
		}
		t.Fatalf("log %s not in trusted root %v", key, have)
	}
	if err := tlog.VerifySET(e, tr.RekorLogs()); err != nil {
		t.Fatalf("SET: %v", err)
	}
}

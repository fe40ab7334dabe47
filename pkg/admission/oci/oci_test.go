package oci_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/admission"
)

func TestRealSignaturesInARegistry(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		name := "referrers API"
		if !referrers {
			name = "tag-schema fallback"
		}
		t.Run(name, func(t *testing.T) {
			host := registry.NewInProcess(t, referrers)
			dir := t.TempDir()
			release, other := kube.NewSigner(t, dir, "release"), kube.NewSigner(t, dir, "other")
			// Each model has its own content: decisions are cached by
			// digest, and identical content has one digest everywhere.
			benign := func(name string) map[string][]byte {
				return map[string][]byte{"model.pkl": kube.BenignPickle, "config.json": []byte(`{"name":"` + name + `"}`)}
			}
			good := kube.Publish(t, host, "models/good", "v1", kube.Model{Files: benign("good"), SignedBy: release, ScanBy: release})
			unsigned := kube.Publish(t, host, "models/unsigned", "v1", kube.Model{Files: benign("unsigned")})
			foreign := kube.Publish(t, host, "models/foreign", "v1", kube.Model{Files: benign("foreign"), SignedBy: other, ScanBy: other})
			unscanned := kube.Publish(t, host, "models/unscanned", "v1", kube.Model{Files: map[string][]byte{"m.pkl": kube.BenignPickle, "x": []byte("x")}, SignedBy: release})
			dangerous := kube.Publish(t, host, "models/dangerous", "v1", kube.Model{Files: map[string][]byte{"model.pkl": kube.DangerousPickle}, SignedBy: release, ScanBy: release})
			// The scan is attested by a key the policy does not trust.
			scannedByOther := kube.Publish(t, host, "models/scanned-by-other", "v1", kube.Model{Files: map[string][]byte{"w.pkl": kube.BenignPickle, "y": []byte("y")}, SignedBy: release, ScanBy: other})

			// The good model's signatures and scan attestation, copied onto a
			// manifest with the same layers and another config.
			forged := kube.Forge(t, host, "models/good", good)

			p := compile(t, writePolicy(t, dir, kube.PolicyYAML(host, "enforce", release.PubPath)), admission.Options{})
			tests := []struct {
				name, ref string
				outcome   admission.Outcome
				reason    string
			}{
				{"a signed, cleanly scanned model is admitted", host + "/models/good@" + good, admission.Admitted, "signed by signera"},
				{"a tag is resolved and admitted", host + "/models/good:v1", admission.Admitted, "scan attested by signera"},
				{"an unsigned model is denied", host + "/models/unsigned@" + unsigned, admission.Denied, "no signature"},
				{"a model signed by an untrusted key is denied", host + "/models/foreign@" + foreign, admission.Denied, "no valid signature"},
				{"a signed model without a scan is denied", host + "/models/unscanned@" + unscanned, admission.Denied, "scan required"},
				{"a scan signed by an untrusted key does not count", host + "/models/scanned-by-other@" + scannedByOther, admission.Denied, "scan required"},
				{"a dangerous model is denied", host + "/models/dangerous@" + dangerous, admission.Denied, "critical findings"},
				{"signatures moved onto a manifest with the same layers are denied", host + "/models/good@" + forged, admission.Denied, "no signature binds the manifest"},
				{"a missing tag fails closed", host + "/models/good:nope", admission.Undecided, "fail closed"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					d := p.Evaluate(context.Background(), []admission.Model{{Ref: tt.ref}}, admission.EvalOptions{ResolveTags: true})
					m := d.Models[0]
					if m.Outcome != tt.outcome || !strings.Contains(m.Reason, tt.reason) {
						t.Fatalf("got %s: %s\nwant %s containing %q", m.Outcome, m.Reason, tt.outcome, tt.reason)
					}
				})
			}
		})
	}
}

func TestRegistryDownFailsClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close() // nothing listens there now
	dir := t.TempDir()
	p := compile(t, writePolicy(t, dir, kube.PolicyYAML(host, "enforce", kube.NewSigner(t, dir, "k").PubPath)), admission.Options{})
	d := p.Evaluate(context.Background(), []admission.Model{{Ref: host + "/models/m@sha256:" + strings.Repeat("a", 64)}}, admission.EvalOptions{})
	m := d.Models[0]
	if m.Outcome != admission.Undecided || !strings.Contains(m.Reason, "fail closed") || d.Allowed() {
		t.Fatalf("got %s: %s", m.Outcome, m.Reason)
	}
}

package kms_test

import (
	"errors"
	"testing"

	"github.com/modelverify/modelverify/pkg/sign/kms"
)

// FuzzValidate: any string is either a well-formed key URI of a served
// scheme or an ErrURI, without a panic.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"awskms:///alias/release", "awskms://localhost:4566/1234abcd-12ab-34cd-56ef-1234567890ab",
		"gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k/versions/1",
		"azurekms://v.vault.azure.net/k/0123", "hashivault://k", "openbao://k", "awskms://", "pkcs11:x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := kms.Validate(s)
		if err != nil && !errors.Is(err, kms.ErrURI) {
			t.Fatalf("Validate(%q): %v is not an ErrURI", s, err)
		}
		if err == nil && !kms.IsURI(s) {
			t.Fatalf("Validate(%q) accepted a string IsURI refuses", s)
		}
	})
}

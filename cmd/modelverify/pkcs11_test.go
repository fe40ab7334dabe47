package main

import (
	"strings"
	"testing"
)

// The default build has no PKCS#11 code: a pkcs11: key is refused as a
// configuration error that says how to get it, and a broken URI as well.
func TestPKCS11KeyInTheDefaultBuild(t *testing.T) {
	if pkcs11Built {
		t.Skip("built with -tags pkcs11: see pkcs11_softhsm_test.go")
	}
	dir := t.TempDir()
	_, errOut, code := runCLI(t, "sign", "--key", "pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1", dir)
	if code != 3 || !strings.Contains(errOut, "-tags pkcs11") {
		t.Errorf("exit %d %q", code, errOut)
	}
	_, errOut, code = runCLI(t, "verify", "--key", "pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1", dir)
	if code != 3 || !strings.Contains(errOut, "-tags pkcs11") {
		t.Errorf("verify: exit %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "sign", "--key", "pkcs11:object=k", dir); code != 3 || !strings.Contains(errOut, "module-path") {
		t.Errorf("broken URI: exit %d %q", code, errOut)
	}
}

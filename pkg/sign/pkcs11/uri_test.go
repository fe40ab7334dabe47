package pkcs11

import (
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	u, err := ParseURI("pkcs11:token=my%20token;object=model-signing;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634")
	if err != nil {
		t.Fatal(err)
	}
	if u.Token != "my token" || u.Object != "model-signing" || u.ModulePath != "/usr/lib/softhsm/libsofthsm2.so" || u.PIN != "12&34" {
		t.Errorf("%+v", u)
	}
	if u, err := ParseURI("pkcs11:serial=abc;id=%01%02?module-path=/m.so&pin-source=file:/run/pin"); err != nil || string(u.ID) != "\x01\x02" || u.PINSource != "/run/pin" {
		t.Errorf("%+v %v", u, err)
	}
	for _, bad := range []string{
		"pkcs11:token=t;object=k",                               // no module
		"pkcs11:object=k?module-path=/m.so",                     // no token
		"pkcs11:token=t?module-path=/m.so",                      // no key
		"pkcs11:token=t;token=u;object=k?module-path=/m.so",     // twice
		"pkcs11:token=t;object=k;type=public?module-path=/m.so", // not a private key
		"pkcs11:token=t;object=k;colour=red?module-path=/m.so",  // unknown
		"pkcs11:token=t;object=k?module-path=/m.so&pin-value=1&pin-source=/p",
		"pkcs11:token=%zz;object=k?module-path=/m.so", // bad escape
		"pkcs11:token;object=k?module-path=/m.so",     // no value
		"awskms:///alias/x",
		"pkcs11:token=t;object=k?module-path=/m.so&" + strings.Repeat("x", maxURI),
	} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%.60q) accepted", bad)
		}
	}
}

func FuzzParseURI(f *testing.F) {
	f.Add("pkcs11:token=release;object=model-signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234")
	f.Add("pkcs11:serial=1;id=%01?module-path=/m&pin-source=file:/p")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err == nil && (u.ModulePath == "" || (u.Object == "" && len(u.ID) == 0)) {
			t.Fatalf("accepted an incomplete URI %q: %+v", s, u)
		}
	})
}

// Package pkcs11 signs with an ECDSA key held by a PKCS#11 token (an HSM, a
// smart card, SoftHSM), named by an RFC 7512 URI such as
//
//	pkcs11:token=release;object=model-signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234
//
// The key never leaves the token: Open returns a crypto.Signer for
// sign.NewCryptoSigner. Talking to a token needs cgo and the build tag
// pkcs11 (github.com/ThalesGroup/crypto11); without them Open returns
// ErrNotBuilt, so the default static binary carries no C code. The URI
// parser is always built.
package pkcs11

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Scheme starts a PKCS#11 URI.
const Scheme = "pkcs11:"

// ErrNotBuilt is returned by Open in a build without PKCS#11 support.
var ErrNotBuilt = errors.New("this modelverify was built without PKCS#11 support (build with CGO_ENABLED=1 -tags pkcs11)")

// maxURI bounds the length of a URI.
const maxURI = 4096

// URI is what a PKCS#11 URI names: the token, the key on it, the module
// that drives it and the PIN.
type URI struct {
	Token  string // token label
	Serial string // token serial number
	Object string // key label
	ID     []byte // key id
	// ModulePath is the PKCS#11 library (module-path).
	ModulePath string
	// PIN is the user PIN (pin-value), or read from the file pin-source
	// names.
	PIN       string
	PINSource string
}

// IsURI reports whether s is a PKCS#11 URI.
func IsURI(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseURI reads a PKCS#11 URI (RFC 7512): path attributes separated by
// ";", query attributes after "?" separated by "&", values
// percent-encoded. A key is found by its label (object) or id; the module
// path is required, as no default module is configured.
func ParseURI(s string) (URI, error) {
	var u URI
	if !IsURI(s) {
		return u, fmt.Errorf("pkcs11: %q is not a pkcs11: URI", s)
	}
	if len(s) > maxURI {
		return u, fmt.Errorf("pkcs11: URI longer than %d bytes", maxURI)
	}
	rest := strings.TrimPrefix(s, Scheme)
	path, query, _ := strings.Cut(rest, "?")
	seen := map[string]bool{}
	attr := func(part string) (string, string, error) {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return "", "", fmt.Errorf("pkcs11: attribute %q: want NAME=VALUE", part)
		}
		if seen[k] {
			return "", "", fmt.Errorf("pkcs11: attribute %s given twice", k)
		}
		seen[k] = true
		dv, err := url.PathUnescape(v)
		if err != nil {
			return "", "", fmt.Errorf("pkcs11: attribute %s: %v", k, err)
		}
		return k, dv, nil
	}
	for _, part := range strings.Split(path, ";") {
		if part == "" {
			continue
		}
		k, v, err := attr(part)
		if err != nil {
			return URI{}, err
		}
		switch k {
		case "token":
			u.Token = v
		case "serial":
			u.Serial = v
		case "object":
			u.Object = v
		case "id":
			u.ID = []byte(v)
		case "type":
			if v != "private" {
				return URI{}, fmt.Errorf("pkcs11: type=%s: a signing key is type=private", v)
			}
		case "manufacturer", "model", "library-manufacturer", "library-description", "library-version", "slot-description", "slot-manufacturer", "slot-id":
			// Accepted and not used to select.
		default:
			return URI{}, fmt.Errorf("pkcs11: unknown path attribute %q", k)
		}
	}
	for _, part := range strings.Split(query, "&") {
		if part == "" {
			continue
		}
		k, v, err := attr(part)
		if err != nil {
			return URI{}, err
		}
		switch k {
		case "module-path":
			u.ModulePath = v
		case "pin-value":
			u.PIN = v
		case "pin-source":
			u.PINSource = strings.TrimPrefix(v, "file:")
		case "module-name":
			return URI{}, errors.New("pkcs11: module-name is not supported: give module-path")
		default:
			return URI{}, fmt.Errorf("pkcs11: unknown query attribute %q", k)
		}
	}
	switch {
	case u.ModulePath == "":
		return URI{}, errors.New("pkcs11: the URI needs module-path")
	case u.Token == "" && u.Serial == "":
		return URI{}, errors.New("pkcs11: the URI needs token or serial")
	case u.Object == "" && len(u.ID) == 0:
		return URI{}, errors.New("pkcs11: the URI needs object or id")
	case u.PIN != "" && u.PINSource != "":
		return URI{}, errors.New("pkcs11: pin-value and pin-source are exclusive")
	}
	return u, nil
}

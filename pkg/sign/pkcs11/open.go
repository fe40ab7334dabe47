//go:build pkcs11 && cgo

package pkcs11

import (
	"crypto"
	"fmt"
	"os"
	"strings"

	"github.com/ThalesGroup/crypto11"
)

// Open finds the key pair uri names in its token and returns a signer for
// it and a function that closes the session.
func Open(uri string) (crypto.Signer, func() error, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, nil, err
	}
	pin := u.PIN
	if u.PINSource != "" {
		b, err := os.ReadFile(u.PINSource)
		if err != nil {
			return nil, nil, fmt.Errorf("pkcs11: pin-source: %w", err)
		}
		pin = strings.TrimRight(string(b), "\r\n")
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: u.ModulePath, TokenLabel: u.Token, TokenSerial: u.Serial, Pin: pin})
	if err != nil {
		return nil, nil, fmt.Errorf("pkcs11: open token %q with module %s: %w", u.Token, u.ModulePath, err)
	}
	var id, label []byte
	if len(u.ID) > 0 {
		id = u.ID
	}
	if u.Object != "" {
		label = []byte(u.Object)
	}
	s, err := ctx.FindKeyPair(id, label)
	if err != nil {
		ctx.Close()
		return nil, nil, fmt.Errorf("pkcs11: find key: %w", err)
	}
	if s == nil {
		ctx.Close()
		return nil, nil, fmt.Errorf("pkcs11: no key pair with label %q / id %x in token %q", u.Object, u.ID, u.Token)
	}
	return s, ctx.Close, nil
}

//go:build !pkcs11 || !cgo

package pkcs11

import "crypto"

// Open returns ErrNotBuilt: this build has no PKCS#11 support.
func Open(uri string) (crypto.Signer, func() error, error) {
	if _, err := ParseURI(uri); err != nil {
		return nil, nil, err
	}
	return nil, nil, ErrNotBuilt
}

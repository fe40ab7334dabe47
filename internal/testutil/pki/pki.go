// Package pki makes certificate hierarchies for tests: a root CA, an
// intermediate CA it certifies, and code-signing leaves the intermediate
// issues, all with fresh ECDSA keys.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// CA is a root and an intermediate, valid from an hour ago for a day.
type CA struct {
	Root, Intermediate *x509.Certificate
	interKey           *ecdsa.PrivateKey
	serial             int64
}

// NewCA makes a root (P-384) and an intermediate (P-256) with the given
// subjects.
func NewCA(t testing.TB, root, intermediate pkix.Name) *CA {
	t.Helper()
	now := time.Now()
	ca := func(serial int64, subject pkix.Name) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
	}
	rootKey := newKey(t, elliptic.P384())
	interKey := newKey(t, elliptic.P256())
	rootT := ca(1, root)
	c := &CA{interKey: interKey, serial: 2}
	c.Root = issue(t, rootT, rootT, &rootKey.PublicKey, rootKey)
	c.Intermediate = issue(t, ca(2, intermediate), c.Root, &interKey.PublicKey, rootKey)
	return c
}

// Leaf describes a certificate for Issue. The zero ExtKeyUsage means code
// signing; the zero NotAfter means an hour from now.
type Leaf struct {
	Subject     pkix.Name
	Emails      []string
	ExtKeyUsage []x509.ExtKeyUsage
	NotAfter    time.Time
}

// Issue makes a P-256 key and a certificate for it, for digital signatures,
// issued by the intermediate.
func (c *CA) Issue(t testing.TB, l Leaf) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	if l.ExtKeyUsage == nil {
		l.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	}
	now := time.Now()
	if l.NotAfter.IsZero() {
		l.NotAfter = now.Add(time.Hour)
	}
	c.serial++
	key := newKey(t, elliptic.P256())
	leaf := issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(c.serial), Subject: l.Subject, EmailAddresses: l.Emails,
		NotBefore: now.Add(-time.Hour), NotAfter: l.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: l.ExtKeyUsage,
	}, c.Intermediate, &key.PublicKey, c.interKey)
	return leaf, key
}

func newKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

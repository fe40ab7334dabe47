package kms_test

import (
	"context"
	"crypto/elliptic"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/modelverify/modelverify/internal/testutil/localkms"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/kms"
)

// smallModel is a folder of three small files.
func smallModel(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	for name, size := range map[string]int{"config.json": 512, "model.safetensors": 64 << 10, "tokenizer.json": 16 << 10} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkSignKMS signs a small folder with a key in memory and with a key
// in local-kms: opened once (a signer reused), and opened for every
// signature (what one `modelverify sign --key awskms://...` pays: the
// public key and the key's metadata, then the signature).
func BenchmarkSignKMS(b *testing.B) {
	ctx := context.Background()
	model := smallModel(b)
	signFolder := func(b *testing.B, s *sign.Signer) {
		if _, err := sign.SignFolder(ctx, s, model, sign.SignFolderOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("file-key", func(b *testing.B) {
		priv, err := sign.GenerateKey(elliptic.P256())
		if err != nil {
			b.Fatal(err)
		}
		s, err := sign.NewKeySigner(priv)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			signFolder(b, s)
		}
	})
	srv := localkms.Start(b)
	key := srv.CreateKey(b, "bench", types.KeySpecEccNistP256)
	b.Run("awskms", func(b *testing.B) {
		s := kmsSigner(b, key.AliasURI)
		for b.Loop() {
			signFolder(b, s)
		}
	})
	b.Run("awskms-open-each", func(b *testing.B) {
		for b.Loop() {
			signFolder(b, kmsSigner(b, key.AliasURI))
		}
	})
}

// kmsSigner opens the key uri names and makes a signer of it.
func kmsSigner(b *testing.B, uri string) *sign.Signer {
	b.Helper()
	priv, err := kms.Open(context.Background(), uri)
	if err != nil {
		b.Fatal(err)
	}
	s, err := sign.NewCryptoSigner(priv)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkVerifyKMS verifies a folder signed by a key in local-kms: with
// its public key as PEM (what a file key costs), and with the key's URI,
// the public key fetched through sign.Trust for every verification (what
// one `modelverify verify --key awskms://...` pays).
func BenchmarkVerifyKMS(b *testing.B) {
	ctx := context.Background()
	model := smallModel(b)
	srv := localkms.Start(b)
	key := srv.CreateKey(b, "bench", types.KeySpecEccNistP256)
	if _, err := sign.SignFolder(ctx, kmsSigner(b, key.AliasURI), model, sign.SignFolderOptions{}); err != nil {
		b.Fatal(err)
	}
	pub, err := kms.PublicKey(ctx, key.AliasURI)
	if err != nil {
		b.Fatal(err)
	}
	pem, err := sign.MarshalPublicKeyPEM(pub)
	if err != nil {
		b.Fatal(err)
	}
	for name, k := range map[string]sign.TrustedKey{"file-key": {PEM: pem}, "awskms": {URI: key.AliasURI}} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				v, err := sign.Trust{Keys: []sign.TrustedKey{k}}.Verifier(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := v.VerifyFolder(ctx, model, sign.VerifyFolderOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package sign_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelverify/modelverify/pkg/sign"
)

// Sign a model folder with a key, then verify it with a verifier compiled
// once; a changed file is a verification error that names the file.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "model")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type":"bert"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("weights"), 0o644)

	priv, _ := sign.GenerateKey(p256())
	signer, _ := sign.NewKeySigner(priv)
	st, _ := sign.SignFolder(ctx, signer, dir, sign.SignFolderOptions{})
	fmt.Println("signed", len(st.Predicate.Resources), "files")

	key, _ := sign.KeyAuthority(&priv.PublicKey)
	v, _ := sign.NewVerifier(key)
	res, err := v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
	fmt.Println("verified:", err == nil, res.Digest == st.SubjectDigest())

	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("evil"), 0o644)
	_, err = v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
	fmt.Println(sign.IsVerificationError(err), errors.Is(err, sign.ErrResources))
	fmt.Println(err)
	// Output:
	// signed 2 files
	// verified: true true
	// true true
	// model does not match the signature: changed: model.safetensors
}

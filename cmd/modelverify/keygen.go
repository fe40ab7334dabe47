package main

import (
	"crypto/elliptic"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/sign"
)

// passwordEnv holds the password that encrypts (keygen) or decrypts (sign,
// scan --attest) a private key.
const passwordEnv = "MODELVERIFY_PASSWORD"

func init() { subcommands = append(subcommands, newKeygenCmd) }

func newKeygenCmd() *cobra.Command {
	var prefix, curve string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --output-key-prefix NAME",
		Short: "Make an ECDSA key pair for signing models",
		Long: `Make an ECDSA key pair: NAME.key (PKCS#8 PEM, encrypted with the password in
$MODELVERIFY_PASSWORD when it is set) and NAME.pub (PEM public key).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if prefix == "" {
				return usageErrorf("--output-key-prefix is required")
			}
			var c elliptic.Curve
			switch strings.ToLower(curve) {
			case "p256", "p-256":
				c = elliptic.P256()
			case "p384", "p-384":
				c = elliptic.P384()
			default:
				return usageErrorf("--curve must be p256 or p384, not %q", curve)
			}
			priv, err := sign.GenerateKey(c)
			if err != nil {
				return err
			}
			privPEM, err := sign.MarshalPrivateKeyPEM(priv, []byte(os.Getenv(passwordEnv)))
			if err != nil {
				return err
			}
			pubPEM, err := sign.MarshalPublicKeyPEM(&priv.PublicKey)
			if err != nil {
				return err
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			files := []struct {
				name string
				data []byte
				mode os.FileMode
			}{{prefix + ".key", privPEM, 0o600}, {prefix + ".pub", pubPEM, 0o644}}
			if !force {
				// Refuse before writing either file, so that an existing
				// public key is never left beside a new private key.
				for _, f := range files {
					if _, err := os.Lstat(f.name); err == nil {
						return usageErrorf("%s already exists (use --force to overwrite)", f.name)
					}
				}
			}
			for _, f := range files {
				fh, err := os.OpenFile(f.name, flags, f.mode)
				if os.IsExist(err) {
					return usageErrorf("%s already exists (use --force to overwrite)", f.name)
				}
				if err != nil {
					return withCode(exitFailed, fmt.Errorf("write key: %w", err))
				}
				if _, err := fh.Write(f.data); err != nil {
					fh.Close()
					return err
				}
				if err := fh.Close(); err != nil {
					return err
				}
			}
			enc := "unencrypted"
			if os.Getenv(passwordEnv) != "" {
				enc = "encrypted"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key (%s) and %s.pub\n", prefix, enc, prefix)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "", "write the key pair to NAME.key and NAME.pub")
	cmd.Flags().StringVar(&curve, "curve", "p256", "elliptic curve: p256 or p384")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

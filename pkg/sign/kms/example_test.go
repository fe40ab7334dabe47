package kms_test

import (
	"context"
	"fmt"
	"log"

	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/kms"
)

// Sign a model folder with a key held by AWS KMS; credentials and region
// come from the AWS SDK's environment.
func ExampleOpen() {
	ctx := context.Background()
	priv, err := kms.Open(ctx, "awskms:///alias/model-signing")
	if err != nil {
		log.Fatal(err)
	}
	s, err := sign.NewCryptoSigner(priv)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := sign.SignFolder(ctx, s, "./bert", sign.SignFolderOptions{}); err != nil {
		log.Fatal(err)
	}
}

func ExampleValidate() {
	fmt.Println(kms.Validate("awskms:///alias/model-signing"))
	fmt.Println(kms.Validate("gcpkms://projects/p/keyRings/r"))
	// Output:
	// <nil>
	// kms: invalid key URI: "gcpkms://projects/p/keyRings/r": want gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]
}

// Command local-kms serves local-kms's AWS KMS emulation on a loopback
// address only, for the KMS signing tests: 127.0.0.1 and the port in $PORT
// (0, the default, lets the kernel choose). Its database lives in
// $KMS_DATA_PATH; $KMS_REGION and $KMS_ACCOUNT_ID name the region and
// account of the ARNs it makes. The chosen address is printed on stderr as
// "Local KMS started on 127.0.0.1:PORT". No seed file is read: tests create
// their keys through the API.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	config.AWSRegion = env("KMS_REGION", "eu-west-2")
	config.AWSAccountId = env("KMS_ACCOUNT_ID", "111122223333")
	path, err := filepath.Abs(env("KMS_DATA_PATH", filepath.Join(os.TempDir(), "local-kms")))
	if err != nil {
		log.Fatal(err)
	}
	config.DatabasePath = path
	db := data.NewDatabase(path)
	defer db.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", env("PORT", "0")))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "Local KMS started on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src.HandleRequest(w, r, db)
	})))
}

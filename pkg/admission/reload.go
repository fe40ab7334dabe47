package admission

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// CertificateReloader serves a TLS key pair that can be reloaded from its
// files while the server runs.
type CertificateReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// NewCertificateReloader loads the key pair once; it fails if the files do
// not hold a valid pair.
func NewCertificateReloader(certFile, keyFile string) (*CertificateReloader, error) {
	c := &CertificateReloader{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again. On error the previous pair stays in use.
func (c *CertificateReloader) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS key pair %s, %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert.Store(&pair)
	return nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (c *CertificateReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if p := c.cert.Load(); p != nil {
		return p, nil
	}
	return nil, errors.New("no serving certificate loaded")
}

// Files are the certificate and key paths.
func (c *CertificateReloader) Files() []string { return []string{c.certFile, c.keyFile} }

// WatchFiles polls the files that paths returns every interval and calls
// onChange after their contents change (a file that appears, disappears or
// is rewritten, or a different set of files). It
// compares contents, not modification times or inotify events, so that the
// symlink swaps with which Kubernetes updates ConfigMap and Secret volumes
// are seen. It reads the files once before it returns, so that a change made
// after the call is never taken for the starting state, and then polls in a
// goroutine until ctx is done.
func WatchFiles(ctx context.Context, interval time.Duration, paths func() []string, onChange func()) {
	last := fingerprint(paths())
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if now := fingerprint(paths()); now != last {
				last = now
				onChange()
			}
		}
	}()
}

func fingerprint(paths []string) [sha256.Size]byte {
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s\x00", p)
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintf(h, "error %v\x00", err)
			continue
		}
		io.Copy(h, io.LimitReader(f, maxPolicySize))
		f.Close()
		h.Write([]byte{0})
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

package admission

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServerOptions configure Serve.
type ServerOptions struct {
	// PolicyFile is read at start and again whenever it changes.
	PolicyFile string
	// Compile turns a policy document into a Policy (it supplies the
	// resolver and the authority compiler). Required.
	Compile func(*PolicyDocument) (*Policy, error)
	// CertFile and KeyFile are the serving key pair, reloaded when they
	// change. Both empty with PlainHTTP.
	CertFile, KeyFile string
	// PlainHTTP serves without TLS (behind a TLS-terminating proxy, or in
	// tests). The API server itself only calls webhooks over HTTPS.
	PlainHTTP bool
	// WatchInterval is how often the files are checked; 0 means 2s.
	WatchInterval time.Duration
	Metrics       *Metrics
	Logger        *slog.Logger
	// Timeout bounds each admission request; 0 means DefaultRequestTimeout.
	Timeout time.Duration
	// Started, if set, is called with the handler once it serves.
	Started func(*Handler)
}

// Serve runs the webhook on ln until ctx is done, then shuts down
// gracefully. It fails at once if the policy or the key pair cannot be
// loaded; later reload failures keep the previous version and are logged
// and counted.
func Serve(ctx context.Context, ln net.Listener, opts ServerOptions) error {
	if opts.Compile == nil || opts.PolicyFile == "" {
		return errors.New("a policy file and a compile function are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	interval := opts.WatchInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	// The policy is reloaded when its file or a file it names (a key, a
	// trusted root) changes.
	var (
		mu      sync.Mutex
		watched []string
	)
	load := func() (*Policy, error) {
		doc, err := LoadPolicy(opts.PolicyFile)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		watched = append([]string{opts.PolicyFile}, doc.Files()...)
		mu.Unlock()
		return opts.Compile(doc)
	}
	policyFiles := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return watched
	}
	p, err := load()
	if err != nil {
		return err
	}
	var certs *CertificateReloader
	if !opts.PlainHTTP {
		if opts.CertFile == "" || opts.KeyFile == "" {
			return errors.New("a TLS certificate and key are required (or plain HTTP)")
		}
		if certs, err = NewCertificateReloader(opts.CertFile, opts.KeyFile); err != nil {
			return err
		}
	}
	h := NewHandler(p, HandlerOptions{Metrics: opts.Metrics, Logger: log, Timeout: opts.Timeout})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	WatchFiles(ctx, interval, policyFiles, func() {
		p, err := load()
		opts.Metrics.Reloaded("policy", err)
		if err != nil {
			log.Error("policy reload failed; keeping the previous policy", "file", opts.PolicyFile, "error", err)
			return
		}
		h.SetPolicy(p)
		log.Info("policy reloaded", "file", opts.PolicyFile, "policy", p.Name())
	})
	srv := &http.Server{
		Handler:           h.Routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if certs != nil {
		WatchFiles(ctx, interval, certs.Files, func() {
			err := certs.Reload()
			opts.Metrics.Reloaded("certificate", err)
			if err != nil {
				log.Error("certificate reload failed; keeping the previous one", "error", err)
				return
			}
			log.Info("certificate reloaded", "file", opts.CertFile)
		})
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("webhook serving", "addr", ln.Addr().String(), "policy", p.Name(), "tls", certs != nil)
	if opts.Started != nil {
		opts.Started(h)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

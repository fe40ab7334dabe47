package main

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/admission/oci"
)

func init() { subcommands = append(subcommands, newWebhookCmd) }

func newWebhookCmd() *cobra.Command {
	var (
		reg               registryOptions
		policyFile        string
		certFile          string
		keyFile           string
		addr              string
		watch             time.Duration
		timeout           time.Duration
		logJSON           bool
		maxVerifications  int
		insecureServeHTTP bool
	)
	cmd := &cobra.Command{
		Use:   "webhook --policy FILE --tls-cert FILE --tls-key FILE",
		Short: "Serve the Kubernetes admission webhook",
		Long: `Webhook serves a Kubernetes validating and mutating admission webhook that
admits Pods and workloads only when every model they reference is allowed by
the policy: signed by a trusted authority and, if the rule asks, carrying a
signed scan attestation with nothing above the allowed severity.

Endpoints:
  /validate  ValidatingWebhookConfiguration: allow, deny (naming every failing
             model and why), or allow with warnings in warn mode
  /mutate    MutatingWebhookConfiguration: pins tags to digests, so that what
             was verified is what runs
  /healthz   liveness
  /readyz    readiness (policy and certificate loaded)
  /metrics   Prometheus metrics: decisions, latency, cache hits

The policy file and the certificate are reloaded when they change; a policy
that does not compile is logged and the previous one stays in force. Any
registry error denies the request (fail closed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if policyFile == "" {
				return usageErrorf("--policy is required")
			}
			if !insecureServeHTTP && (certFile == "" || keyFile == "") {
				return usageErrorf("--tls-cert and --tls-key are required")
			}
			var handler slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), nil)
			if logJSON {
				handler = slog.NewJSONHandler(cmd.ErrOrStderr(), nil)
			}
			log := slog.New(handler)
			metrics := admission.NewMetrics()
			if maxVerifications < 1 {
				return usageErrorf("--max-verifications must be at least 1")
			}
			registry := oci.New(oci.Options{Registry: reg.RegistryOptions()})
			// One limit for every policy compiled, so that a reload does
			// not raise it.
			limit := admission.NewVerifyLimit(maxVerifications)
			compile := func(doc *admission.PolicyDocument) (*admission.Policy, error) {
				return registry.Compile(doc, admission.Options{Metrics: metrics, Verifications: limit})
			}
			// Check the configuration before listening, so that a bad
			// policy or key pair is a configuration error (exit 3).
			doc, err := admission.LoadPolicy(policyFile)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if _, err := compile(doc); err != nil {
				return withCode(exitUsage, err)
			}
			if !insecureServeHTTP {
				if _, err := admission.NewCertificateReloader(certFile, keyFile); err != nil {
					return withCode(exitUsage, err)
				}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return withCode(exitFailed, err)
			}
			err = admission.Serve(cmd.Context(), ln, admission.ServerOptions{
				PolicyFile:    policyFile,
				Compile:       compile,
				CertFile:      certFile,
				KeyFile:       keyFile,
				PlainHTTP:     insecureServeHTTP,
				WatchInterval: watch,
				Metrics:       metrics,
				Logger:        log,
				Timeout:       timeout,
			})
			if err != nil && !errors.Is(err, cmd.Context().Err()) {
				return withCode(exitFailed, err)
			}
			return nil
		},
	}
	reg.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&policyFile, "policy", "", "ModelPolicy YAML file (reloaded when it changes)")
	f.StringVar(&certFile, "tls-cert", "", "serving certificate PEM file (reloaded when it changes)")
	f.StringVar(&keyFile, "tls-key", "", "serving private key PEM file")
	f.StringVar(&addr, "addr", ":8443", "address to listen on")
	f.DurationVar(&watch, "watch-interval", 2*time.Second, "how often the policy and certificate files are checked for changes")
	f.DurationVar(&timeout, "request-timeout", admission.DefaultRequestTimeout, "time limit for one admission request (keep below the webhook's timeoutSeconds)")
	f.BoolVar(&logJSON, "log-json", false, "log in JSON instead of text")
	f.IntVar(&maxVerifications, "max-verifications", admission.DefaultMaxVerifications, "how many models are verified against the registry at once, across requests (cached decisions never wait)")
	f.BoolVar(&insecureServeHTTP, "insecure-serve-http", false, "serve plain HTTP instead of TLS (only behind a TLS-terminating proxy; the API server calls webhooks over HTTPS)")
	return cmd
}

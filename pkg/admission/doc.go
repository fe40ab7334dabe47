// Package admission decides whether the models that a Kubernetes object (or
// a list of references) would run may be deployed.
//
// A ModelPolicy (YAML, apiVersion modelverify.dev/v1alpha1) is compiled once
// into a [Policy]; the webhook's /validate and /mutate handlers and the
// `modelverify admit` command all evaluate that same compiled object.
// Evaluation resolves each reference to a manifest digest through a
// [Resolver], then asks the rule's [Authority] values whether the model is
// signed and carries an acceptable signed scan attestation. Results are
// cached by digest for a bounded time. Anything that prevents a decision
// (a registry error, a timeout) denies: the package fails closed.
//
// The package holds the policy, reference extraction, AdmissionReview
// handling, caching, metrics and reloading; it reaches registries and
// signatures only through the small interfaces above, so the adapters that
// talk to real registries live elsewhere (see the registry subpackage).
package admission

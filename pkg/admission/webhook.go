package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxReviewSize bounds an AdmissionReview body. The API server limits
// objects to about 3 MiB; a review carries the object twice on UPDATE.
const maxReviewSize = 8 << 20

// DefaultRequestTimeout bounds one admission request; it stays below the
// API server's default webhook timeout of 10s so that the webhook answers
// (denying, fail closed) before the API server gives up.
const DefaultRequestTimeout = 9 * time.Second

// HandlerOptions configure a Handler. Zero values are the defaults.
type HandlerOptions struct {
	Metrics *Metrics
	// Logger receives one line per denial and per error; nil discards.
	Logger *slog.Logger
	// Timeout bounds each request; 0 means DefaultRequestTimeout.
	Timeout time.Duration
	// Ready, if set, must return nil for /readyz to succeed (for example,
	// "the serving certificate is loaded").
	Ready func() error
}

// Handler serves the admission webhook endpoints for the current policy,
// which can be replaced at any time with SetPolicy.
type Handler struct {
	policy  atomic.Pointer[Policy]
	metrics *Metrics
	log     *slog.Logger
	timeout time.Duration
	ready   func() error
}

// NewHandler returns a handler that evaluates p.
func NewHandler(p *Policy, opts HandlerOptions) *Handler {
	h := &Handler{metrics: opts.Metrics, log: opts.Logger, timeout: opts.Timeout, ready: opts.Ready}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.timeout <= 0 {
		h.timeout = DefaultRequestTimeout
	}
	h.policy.Store(p)
	return h
}

// SetPolicy replaces the policy for the requests that follow.
func (h *Handler) SetPolicy(p *Policy) { h.policy.Store(p) }

// Policy is the current policy.
func (h *Handler) Policy() *Policy { return h.policy.Load() }

// Routes returns a mux with /validate, /mutate, /healthz, /readyz and, if
// the handler has metrics, /metrics.
func (h *Handler) Routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/validate", h.ServeValidate)
	mux.HandleFunc("/mutate", h.ServeMutate)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if h.Policy() == nil {
			http.Error(w, "no policy loaded", http.StatusServiceUnavailable)
			return
		}
		if h.ready != nil {
			if err := h.ready(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		io.WriteString(w, "ok\n")
	})
	if h.metrics != nil {
		mux.Handle("/metrics", h.metrics.Handler())
	}
	return mux
}

// ServeValidate answers an AdmissionReview: it allows the object when every
// model in it is admitted (or the policy only warns), and otherwise denies
// it with a message that names each failing model and why.
func (h *Handler) ServeValidate(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "validate", h.validate)
}

// ServeMutate answers an AdmissionReview with a JSON patch that pins every
// tag governed by a verify rule to the digest it names now, so that what
// /validate verifies is what runs. It never denies: a tag that cannot be
// resolved is left alone (with a warning) for /validate to refuse.
func (h *Handler) ServeMutate(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "mutate", h.mutate)
}

type reviewFunc func(context.Context, *Policy, *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, *Decision, string)

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, endpoint string, review reviewFunc) {
	start := time.Now()
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "want Content-Type application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewSize+1))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxReviewSize {
		http.Error(w, fmt.Sprintf("AdmissionReview larger than %d bytes", maxReviewSize), http.StatusRequestEntityTooLarge)
		return
	}
	var in admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, "decode AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if in.Request == nil {
		http.Error(w, "AdmissionReview has no request", http.StatusBadRequest)
		return
	}
	if in.APIVersion != "admission.k8s.io/v1" || in.Kind != "AdmissionReview" {
		http.Error(w, fmt.Sprintf("want admission.k8s.io/v1 AdmissionReview, got %s %s", in.APIVersion, in.Kind), http.StatusBadRequest)
		return
	}
	req := in.Request
	p := h.Policy()
	var (
		resp     *admissionv1.AdmissionResponse
		decision *Decision
		label    string
	)
	if p == nil {
		resp, label = deny(http.StatusServiceUnavailable, "modelverify: no policy loaded, denied (fail closed)"), "error"
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		resp, decision, label = review(ctx, p, req)
		cancel()
	}
	resp.UID = req.UID
	out := admissionv1.AdmissionReview{TypeMeta: in.TypeMeta, Response: resp}
	b, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "encode AdmissionReview: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	h.metrics.request(endpoint, label, time.Since(start), decision)
	if !resp.Allowed || len(resp.Warnings) > 0 {
		msg := ""
		if resp.Result != nil {
			msg = resp.Result.Message
		}
		name, generateName := objectName(req)
		h.log.Info("admission", "endpoint", endpoint, "uid", string(req.UID), "kind", req.Kind.Kind,
			"namespace", req.Namespace, "name", name, "generateName", generateName, "allowed", resp.Allowed,
			"message", msg, "warnings", resp.Warnings)
	}
}

// objectName is the name of the object under review, from the request or
// the object, and its generateName prefix when it has no name yet (a Pod
// created by a ReplicaSet, an object created with generateName).
func objectName(req *admissionv1.AdmissionRequest) (name, generateName string) {
	var o struct {
		Metadata struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	raw := req.Object.Raw
	if len(raw) == 0 {
		raw = req.OldObject.Raw
	}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &o) // a log field: best effort
	}
	name = req.Name
	if name == "" {
		name = o.Metadata.Name
	}
	return name, o.Metadata.GenerateName
}

func deny(code int32, msg string) *admissionv1.AdmissionResponse {
	reason := metav1.StatusReasonForbidden
	if code != http.StatusForbidden {
		reason = metav1.StatusReasonBadRequest
		if code == http.StatusServiceUnavailable {
			reason = metav1.StatusReasonServiceUnavailable
		}
	}
	return &admissionv1.AdmissionResponse{
		Allowed: false,
		Result:  &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg},
	}
}

// reviewable returns the references of the object under review, or a
// response that ends the review early.
func reviewable(req *admissionv1.AdmissionRequest) ([]Found, *admissionv1.AdmissionResponse, string) {
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
	default:
		return nil, &admissionv1.AdmissionResponse{Allowed: true}, "allowed"
	}
	if req.SubResource != "" && req.SubResource != "ephemeralcontainers" {
		return nil, &admissionv1.AdmissionResponse{Allowed: true}, "allowed"
	}
	if len(req.Object.Raw) == 0 {
		return nil, deny(http.StatusBadRequest, "modelverify: the request has no object, denied"), "error"
	}
	found, err := Extract(Kind{req.Kind.Group, req.Kind.Version, req.Kind.Kind}, req.Object.Raw)
	if errors.Is(err, ErrUnsupportedKind) {
		// Nothing this webhook governs: the configuration sent us a kind
		// that carries no pod spec.
		return nil, &admissionv1.AdmissionResponse{Allowed: true}, "allowed"
	}
	if err != nil {
		return nil, deny(http.StatusBadRequest, "modelverify: "+err.Error()+", denied"), "error"
	}
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		found = unchangedRemoved(found, req)
	}
	return found, nil, ""
}

// unchangedRemoved drops, on UPDATE, the references that the old object
// already had: they run already, and judging them again would block
// unrelated changes (labels, replicas, finalizers) to objects admitted
// under an earlier policy. New and changed references are judged.
func unchangedRemoved(found []Found, req *admissionv1.AdmissionRequest) []Found {
	old, err := Extract(Kind{req.Kind.Group, req.Kind.Version, req.Kind.Kind}, req.OldObject.Raw)
	if err != nil {
		return found // judge everything
	}
	had := make(map[string]bool, len(old))
	for _, f := range old {
		had[f.Ref] = true
	}
	var out []Found
	for _, f := range found {
		if !had[f.Ref] {
			out = append(out, f)
		}
	}
	return out
}

func (h *Handler) validate(ctx context.Context, p *Policy, req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, *Decision, string) {
	found, early, label := reviewable(req)
	if early != nil {
		return early, nil, label
	}
	d := p.Evaluate(ctx, Models(found), EvalOptions{})
	switch {
	case !d.Allowed():
		return deny(http.StatusForbidden, d.Message()), d, "denied"
	case len(d.Failures()) > 0:
		return &admissionv1.AdmissionResponse{Allowed: true, Warnings: d.Warnings()}, d, "warned"
	default:
		return &admissionv1.AdmissionResponse{Allowed: true}, d, "allowed"
	}
}

// patchOp is one JSON patch (RFC 6902) operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

func (h *Handler) mutate(ctx context.Context, p *Policy, req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, *Decision, string) {
	found, early, label := reviewable(req)
	if early != nil {
		return early, nil, label
	}
	pins, warnings := p.Pin(ctx, found)
	if len(pins) == 0 {
		return &admissionv1.AdmissionResponse{Allowed: true, Warnings: warnings}, nil, "allowed"
	}
	// Annotation entries share one field: rebuild its whole value.
	var ops []patchOp
	annotations := map[string][]string{}
	var order []string
	for _, f := range found {
		if f.Index < 0 {
			if pinned, ok := pins[f.Pointer]; ok {
				ops = append(ops, patchOp{Op: "replace", Path: f.Pointer, Value: pinned})
			}
			continue
		}
		if _, seen := annotations[f.Pointer]; !seen {
			order = append(order, f.Pointer)
		}
		ref := f.Ref
		if pinned, ok := pins[f.Pointer+"#"+fmt.Sprint(f.Index)]; ok {
			ref = pinned
		}
		annotations[f.Pointer] = append(annotations[f.Pointer], ref)
	}
	for _, ptr := range order {
		for i := range annotations[ptr] {
			if _, ok := pins[ptr+"#"+fmt.Sprint(i)]; ok {
				ops = append(ops, patchOp{Op: "replace", Path: ptr, Value: strings.Join(annotations[ptr], ",")})
				break
			}
		}
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return deny(http.StatusInternalServerError, "modelverify: encode patch: "+err.Error()), nil, "error"
	}
	pt := admissionv1.PatchTypeJSONPatch
	return &admissionv1.AdmissionResponse{Allowed: true, Patch: patch, PatchType: &pt, Warnings: warnings}, nil, "mutated"
}

// Pin resolves every unpinned reference that a verify rule governs. The
// result maps a Found's Pointer (with "#INDEX" for annotation entries) to
// the reference as written plus "@DIGEST". References that cannot be
// resolved are reported as warnings and left out.
func (p *Policy) Pin(ctx context.Context, found []Found) (map[string]string, []string) {
	pins := map[string]string{}
	var warnings []string
	for _, f := range found {
		if _, ok := storageScheme(f.Model); ok {
			continue
		}
		ref, err := ParseReference(f.Ref)
		if err != nil || ref.Pinned() {
			continue
		}
		r := p.match(ref)
		if r == nil || r.action != ActionVerify {
			continue
		}
		digest, err := p.resolver.Resolve(ctx, ref)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("modelverify: could not pin %s %s to a digest: %v", f.Source, f.Ref, err))
			continue
		}
		key := f.Pointer
		if f.Index >= 0 {
			key += "#" + fmt.Sprint(f.Index)
		}
		if f.URI {
			pins[key] = f.Ref + "@" + digest // a storage URI keeps its oci://
		} else {
			pins[key] = strings.TrimPrefix(f.Ref, "oci://") + "@" + digest
		}
	}
	return pins, warnings
}

package admission

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the webhook's Prometheus metrics, on a registry of their own.
// A nil *Metrics records nothing.
type Metrics struct {
	registry  *prometheus.Registry
	decisions *prometheus.CounterVec
	models    *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	cache     *prometheus.CounterVec
	reloads   *prometheus.CounterVec
}

// NewMetrics makes the metrics, with Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modelverify_admission_decisions_total",
			Help: "Admission requests answered, by endpoint and decision (allowed, denied, warned, error).",
		}, []string{"endpoint", "decision"}),
		models: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modelverify_admission_models_total",
			Help: "Models checked, by outcome (admitted, denied, undecided).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "modelverify_admission_request_duration_seconds",
			Help:    "Time to answer an admission request, by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modelverify_admission_cache_requests_total",
			Help: "Decision cache lookups, by result (hit: a cached admission, negative_hit: a cached denial, miss; busy: a miss that got no verification slot before its deadline).",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modelverify_admission_reloads_total",
			Help: "Policy and certificate reloads, by what was reloaded and the result (ok, error).",
		}, []string{"what", "result"}),
	}
	m.registry.MustRegister(m.decisions, m.models, m.latency, m.cache, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry is the registry the metrics are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// cacheLookup counts a decision cache lookup by its result: hit (an
// admission), negative_hit (a denial) or miss.
func (m *Metrics) cacheLookup(result string) {
	if m != nil {
		m.cache.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) request(endpoint, decision string, took time.Duration, d *Decision) {
	if m == nil {
		return
	}
	m.decisions.WithLabelValues(endpoint, decision).Inc()
	m.latency.WithLabelValues(endpoint).Observe(took.Seconds())
	if d != nil {
		for _, md := range d.Models {
			m.models.WithLabelValues(string(md.Outcome)).Inc()
		}
	}
}

// Reloaded counts a reload of what ("policy", "certificate").
func (m *Metrics) Reloaded(what string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reloads.WithLabelValues(what, result).Inc()
}

package registry

import (
	"net/http"
	"testing"
)

func TestNewInProcessServesV2(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		host := NewInProcess(t, referrers)
		resp, err := http.Get("http://" + host + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/: %s", resp.Status)
		}
	}
}

func TestStartDistributionServesV2(t *testing.T) {
	host := StartDistribution(t)
	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/: %s", resp.Status)
	}
}

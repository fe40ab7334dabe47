package admission

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWatchFilesSeesAChangeMadeRightAfterItReturns(t *testing.T) {
	// The starting state is read before WatchFiles returns: a file
	// rewritten at once afterwards is a change, however late the polling
	// goroutine runs.
	for range 50 {
		p := filepath.Join(t.TempDir(), "policy.yaml")
		if err := os.WriteFile(p, []byte("a"), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		changed := make(chan struct{}, 1)
		WatchFiles(ctx, time.Millisecond, func() []string { return []string{p} }, func() {
			select {
			case changed <- struct{}{}:
			default:
			}
		})
		if err := os.WriteFile(p, []byte("b"), 0o600); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatal("the change was not seen")
		}
		cancel()
	}
}

// Command modelverify scans, signs, verifies and gates ML model artifacts.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		if msg := describe(err); msg != "" && !isSilent(err) {
			fmt.Fprintln(os.Stderr, "modelverify:", msg)
		}
		os.Exit(exitCode(err))
	}
}

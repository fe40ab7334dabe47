package main

import (
	"errors"
	"fmt"
	"strings"
)

// Exit codes shared by every command (see docs/cli.md).
const (
	exitOK       = 0
	exitViolated = 1 // findings at or above --fail-on, verification failed, admission denied
	exitFailed   = 2 // could not decide: malformed input, limit hit, registry or I/O error
	exitUsage    = 3 // usage or configuration error
)

// exitError attaches an exit code to an error. A nil err with a code is a
// silent exit: the command has already said what it had to say.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that the process exits with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageErrorf reports a usage or configuration error (exit 3).
func usageErrorf(format string, args ...any) error {
	return withCode(exitUsage, fmt.Errorf(format, args...))
}

// silentExit ends the command with code and prints nothing more.
func silentExit(code int) error { return &exitError{code: code} }

func isSilent(err error) bool {
	var e *exitError
	return errors.As(err, &e) && e.err == nil
}

// exitCode maps an error to the process exit code. Errors that carry no code
// are failures to decide, so they fail closed with 2.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	if strings.HasPrefix(err.Error(), "unknown command ") {
		// cobra's error for a command the tree does not have, made before
		// any of ours runs.
		return exitUsage
	}
	return exitFailed
}

// describe is the message printed for err: its text, with a hint where the
// fix is known to be a flag.
func describe(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "server gave HTTP response to HTTPS client") {
		msg += " (the registry speaks plain HTTP: add --plain-http)"
	}
	return msg
}

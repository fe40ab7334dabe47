package jinja

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Format is a bare Jinja template file, as Hugging Face repositories ship
// chat_template.jinja. Only templates that open with a tag are recognised:
// a template that starts with plain text cannot be told from other text by
// content.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "jinja-template" }

// Match implements scan.Format: "{{", "{%" or "{#" after optional
// whitespace.
func (Format) Match(head []byte, size int64) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(b) >= 2 && b[0] == '{' && (b[1] == '{' || b[1] == '%' || b[1] == '#')
}

// Scan implements scan.Format.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	if max := s.Limits().MaxHeaderBytes; size > max {
		return &scan.LimitError{Limit: "max-header-bytes", Max: max}
	}
	b := make([]byte, size)
	if n, err := r.ReadAt(b, 0); int64(n) < size {
		return fmt.Errorf("read template: %w", err)
	}
	Report(s, "", 0, "file", string(b))
	return nil
}

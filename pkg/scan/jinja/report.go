package jinja

import (
	"fmt"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Report analyses a template found in a model file and records its issues
// as findings on s. where names the template (a GGUF key, a JSON field) and
// offset is where it starts in the member, -1 if unknown.
func Report(s *scan.Session, member string, offset int64, where, src string) {
	r := Analyze(src, Options{MaxNesting: s.Limits().MaxNesting})
	for _, is := range r.Issues {
		rule := scan.RuleTemplateInjection
		if is.Include {
			rule = scan.RuleTemplateInclude
		}
		s.Report(scan.Finding{
			RuleID: rule, Severity: is.Severity, Member: member, Offset: offset,
			Symbol:  is.Symbol,
			Message: fmt.Sprintf("chat template %s: %s (template offset %d)", where, is.Message, is.Pos),
		})
	}
	if r.Err != nil {
		s.Report(scan.Finding{
			RuleID: scan.RuleTemplateUnparsed, Severity: scan.SeverityMedium, Member: member, Offset: offset,
			Message: fmt.Sprintf("chat template %s could not be parsed, judged by its text alone: %v", where, r.Err),
		})
	}
}

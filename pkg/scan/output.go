package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON (schemaVersion 1).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes one line per finding at or above show and a summary.
// Malformed and unreadable targets get a line each too, so an exit code of 2
// is never silent.
func WriteText(w io.Writer, r *Report, show Severity) error {
	var b strings.Builder
	var critical, notAllowed, other int
	var unsupported, nothing []string
	for _, t := range r.Targets {
		for _, f := range t.Findings {
			if f.Severity < show || f.RuleID == RuleMalformed || f.RuleID == RuleLimit || f.RuleID == RuleNothingScanned {
				continue
			}
			where := t.Path
			if f.Member != "" {
				where += ":" + f.Member
			}
			if f.Offset >= 0 {
				where += fmt.Sprintf("@%d", f.Offset)
			}
			msg := f.Message
			if f.RuleID == RuleUnknownGlobal {
				notAllowed++
				msg += "; if it is safe, allow it with --policy FILE (a ScanPolicy, see docs/policy.md)"
			} else if f.Severity >= SeverityCritical {
				critical++
			} else {
				other++
			}
			fmt.Fprintf(&b, "%-8s %s %s: %s\n", strings.ToUpper(f.Severity.String()), f.RuleID, where, msg)
		}
		if t.Verdict == VerdictUnsupported {
			unsupported = append(unsupported, t.Path)
		}
		if t.Format == FormatNothing {
			nothing = append(nothing, t.Path)
		}
		if t.Verdict == VerdictMalformed {
			rule, reason := RuleMalformed, t.Error
			for _, f := range t.Findings {
				if f.RuleID == RuleMalformed || f.RuleID == RuleLimit || f.RuleID == RuleNothingScanned {
					rule, reason = f.RuleID, f.Message
					if f.Member != "" {
						reason = f.Member + ": " + reason
					}
					break
				}
			}
			fmt.Fprintf(&b, "%-8s %s %s: %s\n", "ERROR", rule, t.Path, reason)
		}
	}
	s := r.Summary
	// Targets under which no file was found are not counted as scanned.
	if files := s.Targets - len(nothing); files > 0 {
		fmt.Fprintf(&b, "%d scanned: %d dangerous, %d malformed, %d clean, %d unsupported\n",
			files, s.Dangerous, s.Malformed-len(nothing), s.Clean, s.Unsupported)
	}
	if len(nothing) > 0 {
		fmt.Fprintf(&b, "nothing scanned in %s\n", strings.Join(nothing, ", "))
	}
	if critical+notAllowed+other > 0 {
		fmt.Fprintf(&b, "findings: %d critical, %d not on the allowlist, %d other\n", critical, notAllowed, other)
	}
	if len(unsupported) > 0 {
		const maxNamed = 20
		names := unsupported[:min(len(unsupported), maxNamed)]
		more := ""
		if len(unsupported) > maxNamed {
			more = fmt.Sprintf(" and %d more (--format json lists all)", len(unsupported)-maxNamed)
		}
		fmt.Fprintf(&b, "not read as a model (no format recognised, nothing in it runs on load): %s%s\n", strings.Join(names, ", "), more)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

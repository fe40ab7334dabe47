package admission

import "strings"

// Storage URIs (KServe's storageUri and friends) name models in object
// stores, model hubs, web servers and volumes. Only oci:// names an
// artifact whose signatures and scan attestations this package can check;
// every other scheme is denied unless a rule with action allow (or deny)
// names it with a pattern that spells the scheme, such as
// "s3://models-bucket/**". A pattern without a scheme never matches a
// storage URI, and noMatch: allow does not admit one.

// URIScheme returns the scheme of s ("s3" for "s3://b/k"), or "" when s
// does not start with SCHEME://.
func URIScheme(s string) string {
	i := strings.Index(s, "://")
	if i <= 0 {
		return ""
	}
	for j := 0; j < i; j++ {
		c := s[j]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return ""
		}
	}
	return strings.ToLower(s[:i])
}

// storageScheme reports whether m is a storage URI that cannot be
// verified, and its scheme ("" for a storage field without one, such as a
// local path).
func storageScheme(m Model) (string, bool) {
	scheme := URIScheme(m.Ref)
	if scheme == "oci" {
		return "", false
	}
	if scheme == "" && !m.URI {
		return "", false
	}
	return scheme, true
}

// isURIPattern reports whether a rule pattern names storage URIs.
func isURIPattern(p string) bool {
	s := URIScheme(p)
	return s != "" && s != "oci"
}

// evaluateURI decides a storage URI that cannot be verified: the first
// rule with a pattern for URIs that matches it decides, and anything else
// is denied.
func (p *Policy) evaluateURI(md ModelDecision, scheme string) ModelDecision {
	for _, r := range p.rules {
		for _, g := range r.uriGlobs {
			if !g.match(md.Ref) {
				continue
			}
			md.Rule = r.name
			if r.action == ActionAllow {
				md.Outcome, md.Reason = Admitted, "storage URI allowed by rule without verification"
			} else {
				md.Outcome, md.Reason = Denied, "the rule denies these storage URIs"
			}
			return md
		}
	}
	md.Outcome = Denied
	if scheme == "" {
		md.Reason = "storage location " + quoteURI(md.Ref) + " has no URI scheme and cannot be verified (only oci:// models carry signatures); denied unless a rule with action allow names it"
	} else {
		md.Reason = "storage URI " + quoteURI(md.Ref) + " cannot be verified (" + scheme + "://: only oci:// models carry signatures); denied unless a rule with action allow matches it"
	}
	return md
}

func quoteURI(s string) string {
	if len(s) > 256 {
		s = s[:256] + "..."
	}
	return s
}

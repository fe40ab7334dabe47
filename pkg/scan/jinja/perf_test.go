package jinja

import (
	"strings"
	"testing"
	"time"
)

func TestHostileTemplatesAreCheap(t *testing.T) {
	items := strings.Repeat("'ab',", 4000)
	for _, src := range []string{
		"{% for x in [" + items + "] %}{{ x }}{% endfor %}",
		"{{ [" + items + "]|join }}",
		"{{ ('x'*256)*256*256 }}",
		"{{ []*99999999999 }}",
		"{{ 'abc'[0:3:9223372036854775807] }}{{ 'abc'[::-9223372036854775807] }}",
		strings.Repeat("{% set a = a ~ 'xy' ~ a %}", 200) + "{{ a }}",
	} {
		st := time.Now()
		Analyze(src, Options{MaxNesting: 64})
		if d := time.Since(st); d > time.Second {
			t.Errorf("%.40s: %v", src, d)
		}
	}
}

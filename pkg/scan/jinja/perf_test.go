package jinja

import (
	"runtime"
	"strings"
	"testing"
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
		// Cost is measured in memory, not time: a template that multiplies
		// strings or lists would allocate their folded values.
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		Analyze(src, Options{MaxNesting: 64})
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%.40s: %d KiB allocated", src, alloc>>10)
		if alloc > 64<<20 {
			t.Errorf("%.40s: allocated %d MiB", src, alloc>>20)
		}
	}
}

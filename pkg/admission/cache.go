package admission

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// decisionCache remembers definite per-model verdicts (admitted or denied,
// never "could not decide") by rule and digest, for at most ttl, and at most
// size of them.
type decisionCache struct {
	ttl time.Duration
	now func() time.Time
	lru *lru.Cache[string, cachedVerdict]
}

type cachedVerdict struct {
	verdict verdict
	expires time.Time
}

func newDecisionCache(size int, ttl time.Duration, now func() time.Time) *decisionCache {
	if now == nil {
		now = time.Now
	}
	c, err := lru.New[string, cachedVerdict](size)
	if err != nil { // only for size <= 0, which Compile prevents
		panic(err)
	}
	return &decisionCache{ttl: ttl, now: now, lru: c}
}

func cacheKey(ruleName, digest string) string { return ruleName + "\x00" + digest }

func (c *decisionCache) get(key string) (verdict, bool) {
	v, ok := c.lru.Get(key)
	if !ok {
		return verdict{}, false
	}
	if !c.now().Before(v.expires) {
		c.lru.Remove(key)
		return verdict{}, false
	}
	return v.verdict, true
}

func (c *decisionCache) put(key string, v verdict) {
	c.lru.Add(key, cachedVerdict{verdict: v, expires: c.now().Add(c.ttl)})
}

// Len is the number of entries, expired or not.
func (c *decisionCache) Len() int { return c.lru.Len() }

package httpx

import (
	"math"
	"sync"
	"time"
)

// Limits protect the server from overload and from one noisy client: at
// most MaxConcurrent API requests are served at once, and each client
// address gets a token bucket of Rate requests per second with Burst.
// Both answer 429 with Retry-After rather than queueing, so a flood
// cannot build up latency for everyone else.
type Limits struct {
	sem     chan struct{}
	release func() // gives a place back; one func for every request
	rate    float64
	burst   float64
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the memory of per-client state.
const maxBuckets = 100_000

// NewLimits returns limits; rate 0 turns the per-client limit off.
func NewLimits(maxConcurrent int, rate float64, burst int) *Limits {
	l := &Limits{sem: make(chan struct{}, maxConcurrent), rate: rate, burst: float64(max(burst, 1)),
		now: time.Now, buckets: map[string]*bucket{}}
	l.release = func() { <-l.sem }
	return l
}

// Acquire takes a place among the concurrent requests and a token from
// the client's bucket; it returns a release func, or how long to wait
// (answer TooMany). Nil limits let everything in.
func (l *Limits) Acquire(client string) (release func(), retryAfter time.Duration) {
	if l == nil {
		return func() {}, 0
	}
	if l.rate > 0 {
		if wait := l.take(client); wait > 0 {
			return nil, wait
		}
	}
	select {
	case l.sem <- struct{}{}:
		return l.release, 0
	default:
		return nil, time.Second
	}
}

func (l *Limits) take(client string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[client]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// prune drops buckets that have refilled (their clients are idle); if
// that frees nothing, all of them.
func (l *Limits) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

package fido

import (
	"crypto/rand"
	"sync"
	"time"

	"passkiosk/kiosk"
)

// Challenge is a ceremony challenge: 32 random bytes, used once.
type Challenge [32]byte

// NewChallenge draws a fresh challenge from crypto/rand.
func NewChallenge() (Challenge, error) {
	var c Challenge
	if _, err := rand.Read(c[:]); err != nil {
		return c, kiosk.E(kiosk.KindUnknown, "new challenge", err)
	}
	return c, nil
}

// Challenges issues challenges and redeems each at most once, within its
// lifetime. A redeemed, expired or never-issued challenge is a
// kiosk.KindChallenge error, which is how replays are caught.
type Challenges struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu          sync.Mutex
	outstanding map[Challenge]time.Time // challenge → expiry
}

// NewChallenges returns an issuer whose challenges live for ttl; now is the
// clock (nil means time.Now). At most max challenges are outstanding; the
// oldest is dropped to make room, so a flood of ceremonies cannot grow
// memory.
func NewChallenges(ttl time.Duration, max int, now func() time.Time) *Challenges {
	if now == nil {
		now = time.Now
	}
	if max < 1 {
		max = 1
	}
	return &Challenges{ttl: ttl, now: now, max: max, outstanding: make(map[Challenge]time.Time)}
}

// Issue returns a fresh challenge and remembers it until it expires.
func (c *Challenges) Issue() (Challenge, error) {
	ch, err := NewChallenge()
	if err != nil {
		return ch, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.pruneLocked(now)
	for len(c.outstanding) >= c.max {
		c.dropOldestLocked()
	}
	c.outstanding[ch] = now.Add(c.ttl)
	return ch, nil
}

// Redeem consumes ch. It succeeds once per issued challenge, before expiry.
func (c *Challenges) Redeem(ch Challenge) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.outstanding[ch]
	if !ok {
		return kiosk.Errorf(kiosk.KindChallenge, "redeem challenge", "challenge was never issued or was already used")
	}
	delete(c.outstanding, ch)
	if !c.now().Before(exp) {
		return kiosk.Errorf(kiosk.KindChallenge, "redeem challenge", "challenge expired")
	}
	return nil
}

// Outstanding is the number of challenges issued and not yet redeemed or
// expired.
func (c *Challenges) Outstanding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(c.now())
	return len(c.outstanding)
}

func (c *Challenges) pruneLocked(now time.Time) {
	for ch, exp := range c.outstanding {
		if !now.Before(exp) {
			delete(c.outstanding, ch)
		}
	}
}

func (c *Challenges) dropOldestLocked() {
	var oldest Challenge
	var first time.Time
	for ch, exp := range c.outstanding {
		if first.IsZero() || exp.Before(first) {
			oldest, first = ch, exp
		}
	}
	delete(c.outstanding, oldest)
}

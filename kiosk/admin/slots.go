package admin

import "sync"

// slots shares the MaxConns connection slots among the callers the peer
// check let in. A connection holds its slot from its peer check until its
// command is answered (an audit follow gives it back when its stream
// opens), so a caller that connects and says nothing holds one until the
// read deadline.
//
// To keep one caller from holding every slot, each uid gets a share
// (a quarter of the slots, at least one), and the callers other than root
// together leave root a share free: an administrator whose script opens
// hundreds of idle connections is told the appliance is busy, while root
// and the other administrators are still served. Root itself is held
// only by the total.
type slots struct {
	mu    sync.Mutex
	max   int
	share int // per uid other than root
	// userMax bounds the slots of all uids other than root together.
	userMax int
	total   int
	users   int // slots held by uids other than root
	byUID   map[int]int
}

func newSlots(n int) *slots {
	s := &slots{max: n, share: max(1, n/4), byUID: make(map[int]int)}
	s.userMax = n - s.share
	if s.userMax < 1 {
		s.userMax = n
	}
	return s
}

// take gives uid a slot and the function that gives it back (safe to
// call more than once), or false when uid has used its share or the
// slots it may use are taken.
func (s *slots) take(uid int) (func(), bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= s.max {
		return nil, false
	}
	if uid != 0 && (s.byUID[uid] >= s.share || s.users >= s.userMax) {
		return nil, false
	}
	s.total++
	s.byUID[uid]++
	if uid != 0 {
		s.users++
	}
	return sync.OnceFunc(func() { s.give(uid) }), true
}

func (s *slots) give(uid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if uid != 0 {
		s.users--
	}
	if s.byUID[uid]--; s.byUID[uid] <= 0 {
		delete(s.byUID, uid)
	}
}

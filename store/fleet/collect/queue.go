package collect

import "sync"

// queue hands terminals with news to workers, each terminal to one
// worker at a time; news that arrives while it is drained queues it
// again.
type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	order   []string
	queued  map[string]bool
	running map[string]bool
	again   map[string]bool
	closed  bool
}

func newQueue() *queue {
	q := &queue{queued: map[string]bool{}, running: map[string]bool{}, again: map[string]bool{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) mark(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.running[name]:
		q.again[name] = true
	case !q.queued[name]:
		q.queued[name] = true
		q.order = append(q.order, name)
		q.cond.Signal()
	}
}

func (q *queue) next() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", false
	}
	name := q.order[0]
	q.order = q.order[1:]
	delete(q.queued, name)
	q.running[name] = true
	return name, true
}

func (q *queue) done(name string) {
	q.mu.Lock()
	delete(q.running, name)
	again := q.again[name]
	delete(q.again, name)
	q.mu.Unlock()
	if again {
		q.mark(name)
	}
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

package paxosgroup

import "sync"

// scheduler processes groups that have work on a bounded pool of workers.
// A group is queued at most once; work that arrives while it is being
// processed queues it again, so no event is lost and no group is processed
// by two workers at once.
type scheduler struct {
	workers int
	process func(groupID uint64)

	mu struct {
		sync.Mutex
		cond       *sync.Cond
		queue      []uint64
		queued     map[uint64]bool // waiting in queue
		processing map[uint64]bool // held by a worker
		again      map[uint64]bool // enqueued while processing
		stopped    bool
	}
	wg sync.WaitGroup
}

func newScheduler(workers int, process func(uint64)) *scheduler {
	s := &scheduler{workers: workers, process: process}
	s.mu.cond = sync.NewCond(&s.mu.Mutex)
	s.mu.queued = make(map[uint64]bool)
	s.mu.processing = make(map[uint64]bool)
	s.mu.again = make(map[uint64]bool)
	return s
}

func (s *scheduler) start() {
	for i := 0; i < s.workers; i++ {
		s.wg.Add(1)
		go s.worker()
	}
}

func (s *scheduler) stop() {
	s.mu.Lock()
	s.mu.stopped = true
	s.mu.cond.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *scheduler) enqueue(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.mu.stopped:
	case s.mu.processing[id]:
		s.mu.again[id] = true
	case !s.mu.queued[id]:
		s.mu.queued[id] = true
		s.mu.queue = append(s.mu.queue, id)
		s.mu.cond.Signal()
	}
}

func (s *scheduler) worker() {
	defer s.wg.Done()
	s.mu.Lock()
	for {
		for len(s.mu.queue) == 0 && !s.mu.stopped {
			s.mu.cond.Wait()
		}
		if s.mu.stopped {
			s.mu.Unlock()
			return
		}
		id := s.mu.queue[0]
		s.mu.queue[0] = 0
		s.mu.queue = s.mu.queue[1:]
		delete(s.mu.queued, id)
		s.mu.processing[id] = true
		s.mu.Unlock()

		s.process(id)

		s.mu.Lock()
		delete(s.mu.processing, id)
		if s.mu.again[id] {
			delete(s.mu.again, id)
			s.mu.queued[id] = true
			s.mu.queue = append(s.mu.queue, id)
			s.mu.cond.Signal()
		}
	}
}

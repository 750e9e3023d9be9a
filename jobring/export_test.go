package jobring

// SlotState returns the state of the slot of position p as a name, for
// tests that follow a job through its life: "free", "submitted",
// "claimed", "done", or "other" when the slot holds another position.
func (r *Ring[J, R]) SlotState(p uint64) (state string, worker int) {
	st := r.slots[p&r.mask].state.Load()
	if wordPos(st) != p&posMask48 {
		return "other", -1
	}
	return [...]string{"free", "submitted", "claimed", "done"}[wordState(st)], wordWorker(st)
}

// ParkedWorkers returns how many workers are parked waiting for work.
func (r *Ring[J, R]) ParkedWorkers() int { return r.workWait.Parked() }

// Reserve claims the next position as a producer does, without publishing
// it, and returns the position and the function that publishes t there: a
// test can so hold a producer "preempted" between claiming and publishing.
func (r *Ring[J, R]) Reserve() (uint64, func(t Task[J])) {
	for {
		p := r.tail.Load()
		if p&closedBit != 0 || int64(p-r.head.Load()) >= int64(r.size) {
			panic("Reserve on a closed or full ring")
		}
		if r.tail.CompareAndSwap(p, p+1) {
			return p, func(t Task[J]) {
				r.publish(p, &t)
				r.afterPublish(p, 1, r.roster.Load())
			}
		}
	}
}

// PosWrap is the period of the positions a slot's state word records.
const PosWrap = posMask48 + 1

// NewAt is New with the ring's first position p instead of 0, so that tests
// can run positions across the wrap of the state word. The positions are
// set before any worker starts: a scan loads head and then tail, and ends
// only because head never passes tail (see claim), which moving both under
// a running worker would break.
func NewAt[J, R any](cfg Config[J, R], p uint64) (*Ring[J, R], error) {
	r, err := build(cfg)
	if err != nil {
		return nil, err
	}
	for i := range r.slots {
		q := p + (uint64(i)-p)&r.mask // the position in [p, p+size) that maps to slot i
		r.slots[i].state.Store(word(q, 0, stFree))
	}
	r.head.Store(p)
	r.tail.Store(p)
	r.start()
	return r, nil
}

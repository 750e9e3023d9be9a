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
func (r *Ring[J, R]) ParkedWorkers() int { return int(r.parked.Load()) }

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
				ro := r.roster.Load()
				r.publish(p, &t)
				r.afterPublish(p, 1, ro)
			}
		}
	}
}

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

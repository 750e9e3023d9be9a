package migrate

// SetNextSeq makes the next record carry seq, as a writer with a bug (or
// an attacker) could, to test that readers reject the gap.
func (j *Journal) SetNextSeq(seq uint64) { j.nextSeq = seq }

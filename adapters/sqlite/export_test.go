package sqlite

// SmallIndex shrinks the dedup index for tests: weak, when set, replaces the
// 64-bit hash by one with 16 values, so that most keys collide; merges start
// at mergeAt keys in memory and merge step keys per commit; startup merges
// before serving from bulkAt keys above the watermark.
func SmallIndex(o Options, weak bool, mergeAt, step, bulkAt int) Options {
	if weak {
		o.keyHash = func(topic, eventID string) uint64 { return xxhashKey(topic, eventID) % 16 }
	}
	o.mergeAt, o.mergeStep, o.bulkMergeAt = mergeAt, step, bulkAt
	return o
}

// FailExec makes the writer's transaction-control statements fail while f
// returns an error for them; nil restores them.
func (r *Repository) FailExec(f func(stmt string) error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.failExec = f
}

// IndexState reports the in-memory part of the dedup index: keys in the
// active and frozen sets, and whether the Bloom filter is installed.
func (r *Repository) IndexState() (active, frozen int, filter bool) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if r.index.frozen != nil {
		frozen = r.index.frozen.len()
	}
	return r.index.active.len(), frozen, r.index.filter != nil
}

package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/cespare/xxhash/v2"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// The dedup index. Events are append-only; which keys are stored is kept in
// three tiers, searched in this order:
//
//   - active: the keys of events above the watermark, in memory (hash -> seq);
//   - frozen: a previous active set being merged into dedup_keys, in memory
//     until the merge commits its last step;
//   - dedup_keys (hash -> seq) and dedup_overflow (key -> seq, for a key
//     whose hash another key already holds), on disk, with a Bloom filter in
//     front that answers "surely not stored" for most new keys.
//
// A hash hit is always confirmed by reading the event at that seq and
// comparing its key, so two keys are never conflated whatever the hash.
// dedup_state.merged_seq is the watermark: every event at or below it has
// its key on disk; keys above it are rebuilt from the events table at
// startup. A merge writes its keys in hash order, a bounded step inside each
// group commit, and moves the watermark in the commit of its last step.

// keyHash maps a key to its 64-bit index hash.
type keyHash func(topic, eventID string) uint64

// xxhashKey hashes topic, a NUL byte and the event id: neither may contain
// NUL, so no two keys hash the same input.
func xxhashKey(topic, eventID string) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(topic)
	d.Write([]byte{0})
	d.WriteString(eventID)
	return d.Sum64()
}

// Defaults of the merge; tests shrink them.
const (
	defaultMergeAt = 200_000 // keys in memory that start a merge, at least
	// defaultMergeRatio: a merge also waits for 1/ratio of the merged keys,
	// so that each page of dedup_keys takes in about as many keys per merge
	// however large the table grows: a merge rewrites nearly every page.
	defaultMergeRatio = 16
	defaultMergeStep  = 2_048 // keys merged per group commit, at least
	// defaultBulkMergeAt is the most keys above the watermark that startup
	// loads into memory; beyond that (a migrated or long-unmerged store) it
	// merges them before serving.
	defaultBulkMergeAt = 1 << 19
	// filterFP is the false-positive rate of each Bloom filter.
	filterFP = 0.01
	// minFilterKeys is the capacity of the smallest filter.
	minFilterKeys = 1 << 20
)

// entry is one key in the index: its hash and the seq of its event.
type entry struct {
	h   uint64
	seq int64
}

// keySet is a set of stored keys in memory.
type keySet struct {
	primary map[uint64]int64 // hash -> seq of the first key with that hash
	over    map[domain.Key]int64
	top     int64 // highest seq in the set
}

func newKeySet() *keySet { return &keySet{primary: map[uint64]int64{}, over: map[domain.Key]int64{}} }

func (s *keySet) len() int { return len(s.primary) + len(s.over) }

// add records a key known not to be in the set.
func (s *keySet) add(h uint64, k domain.Key, seq int64) {
	if _, taken := s.primary[h]; taken {
		s.over[k] = seq
	} else {
		s.primary[h] = seq
	}
	s.top = max(s.top, seq)
}

// candidates returns the seqs that may hold k: the one filed under its hash,
// which must be confirmed, and the one filed under k itself. A key is in
// over only when its hash is in primary.
func (s *keySet) candidates(h uint64, k domain.Key) (hashed, exact int64) {
	hashed, ok := s.primary[h]
	if !ok {
		return 0, 0
	}
	return hashed, s.over[k]
}

// filter is a growing Bloom filter over the merged keys: a chain of
// filters, a new one twice as large started when the last is full. It is
// used by the writer only.
type filter struct {
	parts []*bloom.BloomFilter
	caps  []uint
	n     uint // keys in the last part
}

func newFilter(keys uint) *filter {
	f := &filter{}
	f.grow(max(keys*2, minFilterKeys))
	return f
}

func (f *filter) grow(capacity uint) {
	f.parts = append(f.parts, bloom.NewWithEstimates(capacity, filterFP))
	f.caps = append(f.caps, capacity)
	f.n = 0
}

func hashBytes(h uint64) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], h)
	return b[:]
}

func (f *filter) add(h uint64) {
	last := len(f.parts) - 1
	if f.n >= f.caps[last] {
		f.grow(f.caps[last] * 2)
		last++
	}
	f.parts[last].Add(hashBytes(h))
	f.n++
}

// mayHold reports whether h may be a merged key; false is certain.
func (f *filter) mayHold(h uint64) bool {
	b := hashBytes(h)
	for _, p := range f.parts {
		if p.Test(b) {
			return true
		}
	}
	return false
}

// index is the in-memory part of the dedup index. The writer (holding
// Repository.writeMu) reads it without locking; it takes mu to change
// active or frozen, which Get reads under mu.
type index struct {
	hash        keyHash
	mergeAt     int
	ratio       int64
	mergeStep   int
	bulkMergeAt int

	mu     sync.RWMutex
	active *keySet
	frozen *keySet // nil when no merge runs

	// Writer only.
	sorted   chan []entry // the frozen keys in hash order, sorted off the writer
	merging  []entry
	mergePos int
	// mark is the watermark: roughly how many keys are merged.
	mark int64
	// forgotten is the highest seq whose event the dedup window deleted:
	// the merge skips the keys of such events.
	forgotten int64

	filter  *filter      // nil until built
	built   chan *filter // the filter built at startup
	pending []uint64     // keys merged while the filter was being built
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func newIndex(o Options) *index {
	x := &index{hash: o.keyHash, mergeAt: o.mergeAt, mergeStep: o.mergeStep, bulkMergeAt: o.bulkMergeAt,
		active: newKeySet(), built: make(chan *filter, 1)}
	if x.hash == nil {
		x.hash = xxhashKey
	}
	if x.mergeAt <= 0 {
		x.mergeAt = defaultMergeAt
	}
	x.ratio = defaultMergeRatio
	if o.mergeAt > 0 {
		x.ratio = math.MaxInt64 // sizes set by a test are absolute
	}
	if x.mergeStep <= 0 {
		x.mergeStep = defaultMergeStep
	}
	if x.bulkMergeAt <= 0 {
		x.bulkMergeAt = defaultBulkMergeAt
	}
	return x
}

// memCandidates returns the seqs in memory that may hold k, under mu: for
// readers.
func (x *index) memCandidates(h uint64, k domain.Key) []int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []int64
	for _, s := range []*keySet{x.active, x.frozen} {
		if s == nil {
			continue
		}
		if hashed, exact := s.candidates(h, k); hashed != 0 {
			out = append(out, hashed)
			if exact != 0 {
				out = append(out, exact)
			}
		}
	}
	return out
}

// publish adds the keys of a committed transaction to active.
func (x *index) publish(added []newKey) {
	if len(added) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, a := range added {
		x.active.add(a.h, a.key, a.seq)
	}
}

// newKey is a key stored by the transaction in progress.
type newKey struct {
	h      uint64
	key    domain.Key
	seq    int64
	digest int64
}

// maybeFreeze turns a full active set into the frozen set of a new merge and
// sorts it off the writer. Called by the writer after a commit.
func (x *index) maybeFreeze() {
	if x.frozen != nil || x.active.len() < max(x.mergeAt, int(x.mark/x.ratio)) {
		return
	}
	x.mu.Lock()
	frozen := x.active
	x.frozen, x.active = frozen, newKeySet()
	x.mu.Unlock()
	x.sorted = make(chan []entry, 1)
	hash := x.hash
	go func(out chan<- []entry) {
		out <- sortedEntries(frozen, hash)
	}(x.sorted)
}

// sortedEntries lists a key set in hash order.
func sortedEntries(s *keySet, hash keyHash) []entry {
	es := make([]entry, 0, s.len())
	for h, seq := range s.primary {
		es = append(es, entry{h, seq})
	}
	for k, seq := range s.over {
		es = append(es, entry{hash(k.Topic, k.EventID), seq})
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := cmpSigned(a.h, b.h); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return es
}

// cmpSigned orders hashes as SQLite orders them: as signed integers.
func cmpSigned(a, b uint64) int { return cmp.Compare(int64(a), int64(b)) }

// filterAdd records a merged key in the filter, or for the filter being
// built.
func (x *index) filterAdd(h uint64) {
	if x.filter != nil {
		x.filter.add(h)
		return
	}
	x.pending = append(x.pending, h)
}

// installFilter takes the filter built at startup once it is ready.
func (x *index) installFilter() {
	if x.filter != nil {
		return
	}
	select {
	case f := <-x.built:
		for _, h := range x.pending {
			f.add(h)
		}
		x.filter, x.pending = f, nil
	default:
	}
}

// surelyNew reports whether h is certainly not a merged key.
func (x *index) surelyNew(h uint64) bool {
	return x.filter != nil && !x.filter.mayHold(h)
}

// The statements of the index, prepared on the writer connection.
const (
	eventKeySQL = `SELECT topic, event_id, payload_digest FROM events WHERE seq = ?`
	// An index entry whose event the dedup window deleted finds no event.
	diskKeySQL    = `SELECT k.seq, e.topic, e.event_id, e.payload_digest FROM dedup_keys k LEFT JOIN events e ON e.seq = k.seq WHERE k.h = ?`
	diskOverSQL   = `SELECT o.seq, e.payload_digest FROM dedup_overflow o JOIN events e ON e.seq = o.seq WHERE o.topic = ? AND o.event_id = ?`
	keyInsertSQL  = `INSERT INTO dedup_keys (h, seq) VALUES (?, ?) ON CONFLICT (h) DO NOTHING`
	keySeqSQL     = `SELECT seq FROM dedup_keys WHERE h = ?`
	overInsertSQL = `INSERT INTO dedup_overflow (topic, event_id, seq) SELECT topic, event_id, seq FROM events WHERE seq = ?
		ON CONFLICT (topic, event_id) DO UPDATE SET seq = excluded.seq`
	watermarkSQL   = `UPDATE dedup_state SET merged_seq = ? WHERE id = 1`
	readMarkSQL    = `SELECT merged_seq FROM dedup_state WHERE id = 1`
	eventsAboveSQL = `SELECT seq, topic, event_id FROM events WHERE seq > ? ORDER BY seq LIMIT ?`
)

// find looks k up in the writer's transaction: the seq and payload digest
// of the stored event with key k, if any.
func (r *Repository) find(ctx context.Context, h uint64, k domain.Key) (seq, digest int64, found bool, err error) {
	x := r.index
	for _, s := range []*keySet{x.active, x.frozen} {
		if s == nil {
			continue
		}
		hashed, exact := s.candidates(h, k)
		for _, seq := range []int64{hashed, exact} {
			if seq == 0 {
				break
			}
			if digest, ok, err := r.confirm(ctx, seq, k); err != nil || ok {
				return seq, digest, ok, err
			}
		}
	}
	if x.surelyNew(h) {
		return 0, 0, false, nil
	}
	var topic, id sql.NullString
	var stored sql.NullInt64
	err = r.stmts.diskKey.QueryRowContext(ctx, int64(h)).Scan(&seq, &topic, &id, &stored)
	if err != nil && !isNoRows(err) {
		return 0, 0, false, fmt.Errorf("look up key hash: %w", err)
	}
	if err == nil && topic.String == k.Topic && id.String == k.EventID && stored.Valid {
		return seq, stored.Int64, true, nil
	}
	// Not filed under its hash: another key holds the hash, or held it
	// until the dedup window forgot it.
	err = r.stmts.diskOver.QueryRowContext(ctx, k.Topic, k.EventID).Scan(&seq, &digest)
	if isNoRows(err) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("look up colliding key: %w", err)
	}
	return seq, digest, true, nil
}

// confirm reads the event at seq and reports whether its key is k. An
// event the dedup window deleted holds no key.
func (r *Repository) confirm(ctx context.Context, seq int64, k domain.Key) (digest int64, ok bool, err error) {
	var topic, id string
	err = r.stmts.eventKey.QueryRowContext(ctx, seq).Scan(&topic, &id, &digest)
	if isNoRows(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read key of seq %d: %w", seq, err)
	}
	return digest, topic == k.Topic && id == k.EventID, nil
}

// mergeKey writes one key into dedup_keys, or into dedup_overflow when its
// hash is held by another key. Writing a key that is already there (a merge
// repeated after a crash) changes nothing.
func (r *Repository) mergeKey(ctx context.Context, e entry) error {
	res, err := r.stmts.keyInsert.ExecContext(ctx, int64(e.h), e.seq)
	if err != nil {
		return fmt.Errorf("merge key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var held int64
	if err := r.stmts.keySeq.QueryRowContext(ctx, int64(e.h)).Scan(&held); err != nil {
		return fmt.Errorf("merge key: read held hash: %w", err)
	}
	if held == e.seq {
		return nil
	}
	if _, err := r.stmts.overInsert.ExecContext(ctx, e.seq); err != nil {
		return fmt.Errorf("merge colliding key: %w", err)
	}
	return nil
}

// mergeStep merges the next keys of the running merge inside the writer's
// transaction: at least mergeStep keys, and twice the keys the transaction
// added, so that merging outpaces ingest. It returns how many it merged and
// whether that finished the merge (the transaction then moves the
// watermark).
func (r *Repository) mergeStep(ctx context.Context, added int) (n int, done bool, err error) {
	x := r.index
	if x.frozen == nil {
		return 0, false, nil
	}
	if x.merging == nil {
		select {
		case x.merging = <-x.sorted:
		default:
			return 0, false, nil
		}
	}
	end := min(x.mergePos+max(x.mergeStep, 2*added), len(x.merging))
	for _, e := range x.merging[x.mergePos:end] {
		if e.seq <= x.forgotten {
			continue
		}
		if err := r.mergeKey(ctx, e); err != nil {
			return 0, false, err
		}
	}
	done = end == len(x.merging)
	if done {
		if _, err := r.stmts.watermark.ExecContext(ctx, x.frozen.top); err != nil {
			return 0, false, fmt.Errorf("move dedup watermark: %w", err)
		}
	}
	return end - x.mergePos, done, nil
}

// merged records a committed merge step: its keys join the filter, and the
// last step drops the frozen set, whose keys are all on disk now.
func (r *Repository) merged(n int, done bool) {
	x := r.index
	for _, e := range x.merging[x.mergePos : x.mergePos+n] {
		x.filterAdd(e.h)
	}
	x.mergePos += n
	if !done {
		return
	}
	x.mu.Lock()
	x.mark = x.frozen.top
	x.frozen = nil
	x.mu.Unlock()
	x.merging, x.mergePos, x.sorted = nil, 0, nil
}

// loadIndex rebuilds the in-memory keys from the events above the
// watermark. When there are bulkMergeAt or more of them (a store migrated
// from the unique-index schema), it merges them to disk first, in chunks
// that each move the watermark, so an interrupted migration resumes.
func (r *Repository) loadIndex(ctx context.Context) error {
	var mark int64
	if err := r.writer.QueryRowContext(ctx, readMarkSQL).Scan(&mark); err != nil {
		return fmt.Errorf("read dedup watermark: %w", err)
	}
	// Above every seq ever given: stored, merged, or purged and forgotten
	// (forgetting moves the purge mark past the events it deletes).
	if err := r.writer.QueryRowContext(ctx, `SELECT max(coalesce((SELECT max(seq) FROM events), 0), ?,
		(SELECT purged_through FROM lifecycle WHERE id = 1)) + 1`, mark).Scan(&r.nextSeq); err != nil {
		return fmt.Errorf("read the next seq: %w", err)
	}
	for {
		// What a running server keeps in memory (a full active set and a
		// frozen one) loads as it is; only more than that merges first.
		bulkAt := max(r.index.bulkMergeAt, 3*int(mark/r.index.ratio))
		keys, err := r.eventsAbove(ctx, mark, bulkAt)
		if err != nil {
			return err
		}
		if len(keys) < bulkAt {
			r.index.publish(keys)
			r.index.mark = mark
			return nil
		}
		mark = keys[len(keys)-1].seq
		if err := r.bulkMerge(ctx, keys, mark); err != nil {
			return err
		}
	}
}

func (r *Repository) eventsAbove(ctx context.Context, mark int64, limit int) ([]newKey, error) {
	rows, err := r.writer.QueryContext(ctx, eventsAboveSQL, mark, limit)
	if err != nil {
		return nil, fmt.Errorf("read keys above the watermark: %w", err)
	}
	defer rows.Close()
	var keys []newKey
	for rows.Next() {
		var k newKey
		if err := rows.Scan(&k.seq, &k.key.Topic, &k.key.EventID); err != nil {
			return nil, fmt.Errorf("read keys above the watermark: %w", err)
		}
		k.h = r.index.hash(k.key.Topic, k.key.EventID)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read keys above the watermark: %w", err)
	}
	return keys, nil
}

// bulkMerge writes keys to disk in one transaction and moves the watermark
// to mark.
func (r *Repository) bulkMerge(ctx context.Context, keys []newKey, mark int64) (err error) {
	es := make([]entry, len(keys))
	for i, k := range keys {
		es[i] = entry{k.h, k.seq}
	}
	slices.SortFunc(es, func(a, b entry) int { return cmpSigned(a.h, b.h) })
	if _, err := r.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			r.rollback(ctx)
		}
	}()
	for _, e := range es {
		if err := r.mergeKey(ctx, e); err != nil {
			return err
		}
	}
	if _, err := r.stmts.watermark.ExecContext(ctx, mark); err != nil {
		return fmt.Errorf("move dedup watermark: %w", err)
	}
	if _, err := r.exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// buildFilter fills a Bloom filter with the merged keys off the writer,
// on a reading connection. Until it is installed, every key that memory does
// not hold is looked up on disk.
func (r *Repository) buildFilter(ctx context.Context) {
	defer r.index.wg.Done()
	var n uint
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM dedup_keys`).Scan(&n); err != nil {
		return
	}
	f := newFilter(n)
	rows, err := r.db.QueryContext(ctx, `SELECT h FROM dedup_keys`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			return
		}
		f.add(uint64(h))
	}
	if rows.Err() != nil {
		return
	}
	r.index.built <- f
}

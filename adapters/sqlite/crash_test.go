package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// crashOpts merge often, so that many kills land inside a merge.
func crashOpts() sqlite.Options { return sqlite.SmallIndex(sqlite.Options{}, false, 1500, 300, 6000) }

const crashChildEnv = "SQLITE_CRASH_CHILD"

// TestCrashKeepsEveryAcknowledgedKey runs a child process that ingests
// batches of new keys and resends of earlier ones, kills it with SIGKILL at
// random moments, and restarts it on the same store. Every key the child
// reported acknowledged must stay stored with the same seq: it is never
// accepted again, and no key is stored twice.
func TestCrashKeepsEveryAcknowledgedKey(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	dir := t.TempDir()
	acked := map[domain.Key]int64{}
	rounds, midMerge := 6, 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsEveryAcknowledgedKey$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "SQLITE_CRASH_ROUND="+strconv.Itoa(round))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after the child has acknowledged a random number of batches,
		// at a random moment after that.
		lines := bufio.NewScanner(out)
		killAfter := 5 + rand.IntN(40)
		batches, lastFrozen := 0, 0
		killed := false
		// A batch counts once its closing line arrived whole: the kill may
		// cut the output anywhere.
		var acks [][]string
		for lines.Scan() {
			f := strings.Fields(lines.Text())
			switch {
			case len(f) == 5 && f[0] == "ack":
				acks = append(acks, f)
			case len(f) == 3 && f[0] == "batch" && f[2] == "end":
				batches++
				lastFrozen, _ = strconv.Atoi(f[1])
				for _, f := range acks {
					k := domain.Key{Topic: f[1], EventID: f[2]}
					seq, _ := strconv.ParseInt(f[3], 10, 64)
					if was, ok := acked[k]; ok && (was != seq || f[4] == "accepted") {
						t.Fatalf("round %d: %v acknowledged as %s seq %d, but seq %d was acknowledged before", round, k, f[4], seq, was)
					}
					if f[4] == "accepted" {
						acked[k] = seq
					}
				}
				acks = acks[:0]
				if batches == killAfter && !killed {
					time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
				}
			}
		}
		cmd.Wait()
		if !killed {
			t.Fatalf("round %d: the child ended after %d batches before it was killed", round, batches)
		}
		if lastFrozen > 0 {
			midMerge++
		}
	}
	t.Logf("%d rounds, %d killed while a merge ran, %d keys acknowledged", rounds, midMerge, len(acked))

	r := openWith(t, dir, crashOpts())
	var keys map[domain.Key]int64 = map[domain.Key]int64{}
	for _, e := range listAll(t, r) {
		if _, twice := keys[e.Key()]; twice {
			t.Fatalf("%v stored twice", e.Key())
		}
		keys[e.Key()] = e.Seq
	}
	var batch []domain.Event
	var want []int64
	check := func() {
		out := mustAppend(t, r, batch...)
		for i, o := range out {
			if o.Status != domain.Duplicate || o.Seq != want[i] {
				t.Fatalf("acknowledged %v: resend gives %+v, want duplicate of seq %d", batch[i].Key(), o, want[i])
			}
		}
		batch, want = batch[:0], want[:0]
	}
	for k, seq := range acked {
		if keys[k] != seq {
			t.Fatalf("acknowledged %v at seq %d, stored at %d", k, seq, keys[k])
		}
		batch = append(batch, apptest.NewEvent(k.Topic, k.EventID, 0))
		want = append(want, seq)
		if len(batch) == 500 {
			check()
		}
	}
	if len(batch) > 0 {
		check()
	}
}

// crashChild ingests until it is killed: batches of 200 events, 160 new
// keys of this round and 40 resends of keys of earlier rounds (stored or
// not), reporting each acknowledged event and whether a merge is running.
func crashChild(t *testing.T, dir string) {
	round, _ := strconv.Atoi(os.Getenv("SQLITE_CRASH_ROUND"))
	r, err := sqlite.Open(context.Background(), dir, crashOpts())
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(os.Stdout)
	for b := 0; ; b++ {
		var batch []domain.Event
		for i := range 160 {
			batch = append(batch, apptest.NewEvent(fmt.Sprintf("t%d", i%4), fmt.Sprintf("r%d-%d", round, b*160+i), 0))
		}
		for range 40 {
			if round == 0 {
				break
			}
			batch = append(batch, apptest.NewEvent(fmt.Sprintf("t%d", rand.IntN(4)),
				fmt.Sprintf("r%d-%d", rand.IntN(round), rand.IntN(8000)), 0))
		}
		out, err := r.Append(context.Background(), batch, apptest.ReceiveTime)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range out {
			fmt.Fprintf(w, "ack %s %s %d %s\n", batch[i].Topic, batch[i].EventID, o.Seq, o.Status)
		}
		_, frozen, _ := r.IndexState()
		fmt.Fprintf(w, "batch %d end\n", frozen)
		w.Flush()
	}
}

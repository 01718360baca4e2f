package replicas_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/adapters/postgres/pgtest"
)

// runCLI runs "server <args>" with the environment, stdin from in and stdout
// to out.
func runCLI(t *testing.T, in, out string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(serverBin, args...)
	cmd.Env = append(os.Environ(), env...)
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("server %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	t.Logf("server %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
}

func TestMoveFromSQLiteToPostgres(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	sqliteEnv := []string{"AGGREGATOR_STORE=sqlite", "AGGREGATOR_DATA_DIR=" + dataDir}
	dsn := pgtest.NewDatabase(t)
	pgEnv := []string{"AGGREGATOR_STORE=postgres", "AGGREGATOR_POSTGRES_DSN=" + dsn}

	// Fill SQLite: new events, some with a timestamp and odd spacing, then
	// repeats and conflicting repeats so every counter moves.
	events := newEvents("mv", 2500, 1)
	for i := range events {
		if i%3 == 0 {
			ts := fmt.Sprintf("2025-01-02T15:04:%02d.%09d+07:00", i%60, i)
			events[i].Timestamp = &ts
		}
		if i%5 == 0 {
			events[i].Payload = json.RawMessage(fmt.Sprintf("{ \"n\" : %d,\n\t\"s\": \"é\\u00e9\" }", i))
		}
	}
	old := startServer(t, sqliteEnv...)
	for start := 0; start < len(events); start += 500 {
		if _, err := publish(ctx, old.URL, events[start:start+500]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := publish(ctx, old.URL, events[:300]); err != nil {
		t.Fatal(err)
	}
	if _, err := publish(ctx, old.URL, newEvents("mv", 50, 2)); err != nil { // conflicts
		t.Fatal(err)
	}
	before := listAll(t, old.URL)
	beforeStats := getStats(t, old.URL)
	old.stop(t)

	dump := filepath.Join(t.TempDir(), "export.ndjson")
	runCLI(t, "", dump, sqliteEnv, "export")
	runCLI(t, dump, "", pgEnv, "import")

	// A second import into the now full store is refused.
	cmd := exec.Command(serverBin, "import")
	cmd.Env = append(os.Environ(), pgEnv...)
	cmd.Stdin, _ = os.Open(dump)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Errorf("second import: err %v, output %s; want a not-empty refusal", err, out)
	}

	srv := startServer(t, pgEnv...)
	after := listAll(t, srv.URL)
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("postgres lists %d events that differ from the %d SQLite listed", len(after), len(before))
	}
	st := getStats(t, srv.URL)
	if st.Lifetime != beforeStats.Lifetime || !reflect.DeepEqual(st.PerTopic, beforeStats.PerTopic) {
		t.Fatalf("lifetime after import = %+v, before = %+v", st.Lifetime, beforeStats.Lifetime)
	}

	// Dedup state moved: everything published again is a duplicate.
	for start := 0; start < len(events); start += 500 {
		res, err := publish(ctx, srv.URL, events[start:start+500])
		if err != nil {
			t.Fatal(err)
		}
		if res.Duplicates != 500 || res.Accepted != 0 || res.Conflicts != 0 {
			t.Fatalf("republished batch at %d: %d accepted, %d duplicates, %d conflicts; want all duplicates",
				start, res.Accepted, res.Duplicates, res.Conflicts)
		}
		for i, r := range res.Results {
			if want := before[start+i]; r.Seq != want.Seq {
				t.Fatalf("%s/%s: seq %d, was %d", r.Topic, r.EventID, r.Seq, want.Seq)
			}
		}
	}
	n := int64(len(events))
	want := beforeStats.Lifetime
	want.Received += n
	want.DuplicateDropped += n
	if got := getStats(t, srv.URL).Lifetime; got != want {
		t.Fatalf("lifetime after republishing = %+v, want %+v", got, want)
	}
	fresh, err := publish(ctx, srv.URL, newEvents("after-move", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if r := fresh.Results[0]; r.Status != "accepted" || r.Seq <= before[len(before)-1].Seq {
		t.Fatalf("new event after the move: %+v, want accepted above seq %d", r, before[len(before)-1].Seq)
	}
}

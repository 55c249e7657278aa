package elle

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// The generator builds histories of *serial* executions: transactions are
// applied one at a time to a model map of lists, then given invoke and
// complete times around their serial position that may overlap their
// neighbours but never contradict the serial order (if T1 completes before
// T2 is invoked, T1 came first). Such histories are strictly serializable,
// so the checker must accept them; a corruption then breaks exactly one
// observation and the checker must reject the history.

// drawer is the source of randomness: rapid (property tests, shrinking) or
// math/rand (benchmarks).
type drawer interface {
	intn(n int) int // uniform in [0, n)
}

type rapidDrawer struct{ t *rapid.T }

func (d rapidDrawer) intn(n int) int { return rapid.IntRange(0, n-1).Draw(d.t, "n") }

type randDrawer struct{ r *rand.Rand }

func (d randDrawer) intn(n int) int { return d.r.IntN(n) }

type corruption int

const (
	noCorruption corruption = iota
	dropAppend              // an OK txn's append never reaches the model
	swapRead                // two elements of one read are swapped
	staleRead               // one final read returns an older (shorter) list
)

func (c corruption) String() string {
	return [...]string{"none", "drop-append", "swap-read", "stale-read"}[c]
}

type genConfig struct {
	txns, keys, maxOps int
	spread             int64 // max distance of invoke/complete from the serial point
	timestamps         bool  // report commit timestamps
	corrupt            corruption
}

func key(k int) string { return fmt.Sprintf("k%d", k) }

// genSerial returns a history and a description of the corruption applied.
func genSerial(d drawer, cfg genConfig) (History, string) {
	next := make([]int, cfg.keys)
	var h History
	for range cfg.txns {
		t := Txn{Process: d.intn(5), Outcome: OK}
		switch d.intn(10) {
		case 0:
			t.Outcome = Fail
		case 1:
			t.Outcome = Info
		}
		for range 1 + d.intn(cfg.maxOps) {
			k := d.intn(cfg.keys)
			if d.intn(2) == 0 {
				t.Ops = append(t.Ops, Read(key(k)))
			} else {
				next[k]++
				t.Ops = append(t.Ops, Append(key(k), next[k]))
			}
		}
		h = append(h, t)
	}
	if cfg.corrupt != noCorruption {
		// A witness guarantees a target for every corruption: two OK
		// appends to k0 and a read of both.
		h = append(h,
			Txn{Outcome: OK, Ops: []Op{Append(key(0), next[0]+1)}},
			Txn{Outcome: OK, Ops: []Op{Append(key(0), next[0]+2)}},
			Txn{Outcome: OK, Ops: []Op{Read(key(0))}})
	}
	final := Txn{Outcome: OK}
	for k := range cfg.keys {
		final.Ops = append(final.Ops, Read(key(k)))
	}
	h = append(h, final)

	desc := ""
	dropped := [2]int{-1, -1}
	if cfg.corrupt == dropAppend {
		var cands [][2]int
		for i, t := range h {
			for j, op := range t.Ops {
				if t.Outcome == OK && op.Kind == OpAppend {
					cands = append(cands, [2]int{i, j})
				}
			}
		}
		dropped = cands[d.intn(len(cands))]
		desc = fmt.Sprintf("dropped T%d's append of %d to %s", dropped[0], h[dropped[0]].Ops[dropped[1]].Value, h[dropped[0]].Ops[dropped[1]].Key)
	}
	execute(d, h, cfg, dropped)
	switch cfg.corrupt {
	case swapRead:
		desc = corruptSwap(d, h)
	case staleRead:
		desc = corruptStale(d, h)
	}
	return h, desc
}

// execute applies the txns serially to a model and assigns times.
func execute(d drawer, h History, cfg genConfig, dropped [2]int) {
	model := map[string][]int{}
	var maxComplete int64
	for i := range h {
		t := &h[i]
		apply := t.Outcome == OK || (t.Outcome == Info && d.intn(2) == 0)
		for j := range t.Ops {
			op := &t.Ops[j]
			switch {
			case !apply:
				op.Values = nil
			case op.Kind == OpAppend && [2]int{i, j} != dropped:
				model[op.Key] = append(model[op.Key], op.Value)
			case op.Kind == OpRead && t.Outcome == OK:
				op.Values = slices.Clone(model[op.Key])
			}
		}
		at := int64(100 * (i + 1))
		t.Invoke = at - int64(d.intn(int(cfg.spread)+1))
		t.Complete = at + int64(d.intn(int(cfg.spread)+1))
		if i == len(h)-1 {
			t.Invoke, t.Complete = maxComplete+1, maxComplete+2
		}
		maxComplete = max(maxComplete, t.Complete)
		if cfg.timestamps && t.Outcome == OK {
			t.CommitTS = 1_000_000 + at
		}
	}
}

func corruptSwap(d drawer, h History) string {
	var cands [][2]int
	for i, t := range h[:len(h)-1] {
		for j, op := range t.Ops {
			if t.Outcome == OK && op.Kind == OpRead && len(op.Values) >= 2 {
				cands = append(cands, [2]int{i, j})
			}
		}
	}
	c := cands[d.intn(len(cands))]
	vals := slices.Clone(h[c[0]].Ops[c[1]].Values)
	a := d.intn(len(vals))
	b := d.intn(len(vals) - 1)
	if b >= a {
		b++
	}
	vals[a], vals[b] = vals[b], vals[a]
	h[c[0]].Ops[c[1]].Values = vals
	return fmt.Sprintf("swapped positions %d and %d of T%d's read of %s", a, b, c[0], h[c[0]].Ops[c[1]].Key)
}

// corruptStale truncates one read of the final txn (invoked after every
// other txn completed) just before an element appended by an OK txn: that
// txn completed before the read began, so the read is stale.
func corruptStale(d drawer, h History) string {
	okVal := map[string]map[int]bool{}
	for _, t := range h {
		for _, op := range t.Ops {
			if t.Outcome == OK && op.Kind == OpAppend {
				if okVal[op.Key] == nil {
					okVal[op.Key] = map[int]bool{}
				}
				okVal[op.Key][op.Value] = true
			}
		}
	}
	fin := len(h) - 1
	var cands [][2]int
	for j, op := range h[fin].Ops {
		for m, v := range op.Values {
			if okVal[op.Key][v] {
				cands = append(cands, [2]int{j, m})
			}
		}
	}
	c := cands[d.intn(len(cands))]
	op := &h[fin].Ops[c[0]]
	op.Values = slices.Clone(op.Values[:c[1]])
	return fmt.Sprintf("T%d's read of %s truncated to %d elements", fin, op.Key, c[1])
}

func dump(h History) string {
	var b strings.Builder
	for i, t := range h {
		fmt.Fprintf(&b, "T%d p%d [%d,%d] %s ts=%d:", i, t.Process, t.Invoke, t.Complete, t.Outcome, t.CommitTS)
		for _, op := range t.Ops {
			if op.Kind == OpAppend {
				fmt.Fprintf(&b, " a(%s,%d)", op.Key, op.Value)
			} else {
				fmt.Fprintf(&b, " r(%s)=%v", op.Key, op.Values)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func drawConfig(t *rapid.T, corrupt corruption) genConfig {
	return genConfig{
		txns:       rapid.IntRange(0, 30).Draw(t, "txns"),
		keys:       rapid.IntRange(1, 4).Draw(t, "keys"),
		maxOps:     rapid.IntRange(1, 4).Draw(t, "maxOps"),
		spread:     int64(rapid.IntRange(0, 400).Draw(t, "spread")),
		timestamps: rapid.Bool().Draw(t, "timestamps"),
		corrupt:    corrupt,
	}
}

func TestSerialHistoriesAreValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h, _ := genSerial(rapidDrawer{t}, drawConfig(t, noCorruption))
		res, err := Check(h, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Valid {
			t.Fatalf("serial history reported invalid:\n%s\n%s", res.String(), dump(h))
		}
	})
}

// TestCorruptionsAreDetected is the negative control: each corruption of a
// serial history must be reported.
func TestCorruptionsAreDetected(t *testing.T) {
	for _, c := range []corruption{dropAppend, swapRead, staleRead} {
		t.Run(c.String(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				h, desc := genSerial(rapidDrawer{t}, drawConfig(t, c))
				res, err := Check(h, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if res.Valid {
					t.Fatalf("%s not detected:\n%s", desc, dump(h))
				}
			})
		})
	}
}

func largeHistory(seed uint64, corrupt corruption) (History, string) {
	d := randDrawer{rand.New(rand.NewPCG(seed, seed))}
	return genSerial(d, genConfig{txns: 10_000, keys: 200, maxOps: 4, spread: 1000, timestamps: true, corrupt: corrupt})
}

func TestLargeHistory(t *testing.T) {
	h, _ := largeHistory(1, noCorruption)
	res := mustCheck(t, h, Options{ProcessOrder: false})
	if !res.Valid {
		t.Fatalf("large serial history invalid:\n%s", res.String())
	}
	t.Logf("%+v", res.Stats)
	h, desc := largeHistory(2, staleRead)
	if res := mustCheck(t, h, Options{}); res.Valid {
		t.Fatalf("%s not detected", desc)
	} else {
		t.Logf("%s:\n%s", desc, res.String())
	}
}

func BenchmarkCheck10k(b *testing.B) {
	h, _ := largeHistory(1, noCorruption)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Check(h, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck10kBroken measures the cycle search on a history where
// every read of every txn is stale by a few elements: one huge component.
func BenchmarkCheck10kBroken(b *testing.B) {
	h, _ := largeHistory(1, noCorruption)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range h {
		for j, op := range h[i].Ops {
			if op.Kind == OpRead && len(op.Values) > 0 && r.IntN(2) == 0 {
				h[i].Ops[j].Values = op.Values[:max(0, len(op.Values)-1-r.IntN(3))]
			}
		}
	}
	res, err := Check(h, Options{})
	if err != nil || res.Valid {
		b.Fatalf("broken history not detected (err %v)", err)
	}
	b.Logf("%v %+v", res.Counts, res.Stats)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Check(h, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

package tpcc

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestDeckFollowsTheMix(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	d := newDeck()
	for round := range 50 {
		var n [numTxnTypes]int
		for range 100 {
			n[d.deal(r)]++
		}
		if n != mixWeights {
			t.Fatalf("round %d: dealt %v, want %v", round, n, mixWeights)
		}
	}
	total := 0
	for _, w := range mixWeights {
		total += w
	}
	if total != 100 || mixWeights[payment] < 43 || mixWeights[orderStatus] < 4 || mixWeights[delivery] < 4 || mixWeights[stockLevel] < 4 {
		t.Errorf("mix %v breaks the minimums of 5.2.3", mixWeights)
	}
}

func TestThinkTime(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for typ := range numTxnTypes {
		mean := meanThinkTime[typ]
		var sum time.Duration
		const n = 20000
		for range n {
			d := thinkTime(r, typ)
			if d < 0 || d > 10*mean {
				t.Fatalf("%s: think time %s outside [0, %s]", typ, d, 10*mean)
			}
			sum += d
		}
		if avg := sum / n; avg < mean*95/100 || avg > mean*105/100 {
			t.Errorf("%s: mean think time %s, want about %s", typ, avg, mean)
		}
	}
}

func TestNewOrderInput(t *testing.T) {
	term := &terminal{w: 2, warehouses: 5, scale: testScale, r: rand.New(rand.NewPCG(9, 10)), c: cLoad}
	rollbacks, remote, lines := 0, 0, 0
	const n = 20000
	for range n {
		in := term.genNewOrder()
		if len(in.lines) < 5 || len(in.lines) > 15 {
			t.Fatalf("%d order lines", len(in.lines))
		}
		seen := map[int]bool{}
		for _, ol := range in.lines {
			if seen[ol.number] || ol.number < 1 || ol.number > len(in.lines) {
				t.Fatalf("order line numbers %+v", in.lines)
			}
			seen[ol.number] = true
			lines++
			if ol.supplyW != in.w {
				remote++
			}
			if ol.item == testScale.items+1 {
				rollbacks++
			} else if ol.item < 1 || ol.item > testScale.items {
				t.Fatalf("item %d", ol.item)
			}
		}
	}
	if p := float64(rollbacks) / n; p < 0.007 || p > 0.013 {
		t.Errorf("%.2f%% of New-Orders roll back, want 1%%", 100*p)
	}
	if p := float64(remote) / float64(lines); p < 0.007 || p > 0.013 {
		t.Errorf("%.2f%% of order lines are remote, want 1%%", 100*p)
	}
	byName, remotePay := 0, 0
	for range n {
		in := term.genPayment()
		if in.c == 0 {
			byName++
		}
		if in.cw != in.w {
			remotePay++
		}
	}
	if p := float64(byName) / n; p < 0.58 || p > 0.62 {
		t.Errorf("%.1f%% of Payments by last name, want 60%%", 100*p)
	}
	if p := float64(remotePay) / n; p < 0.14 || p > 0.16 {
		t.Errorf("%.1f%% of Payments to a remote customer, want 15%%", 100*p)
	}
	single := &terminal{w: 1, warehouses: 1, scale: testScale, r: rand.New(rand.NewPCG(11, 12)), c: cLoad}
	for range 1000 {
		if in := single.genPayment(); in.cw != 1 {
			t.Fatalf("W=1 payment to warehouse %d", in.cw)
		}
	}
}

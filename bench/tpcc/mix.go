package tpcc

import (
	"math"
	"math/rand/v2"
	"time"
)

// mixWeights is the transaction mix (5.2.3): 45% New-Order, 43% Payment
// and 4% each of Order-Status, Delivery and Stock-Level, which meets the
// minimums of 43% Payment and 4% of the other three.
var mixWeights = [numTxnTypes]int{newOrder: 45, payment: 43, orderStatus: 4, delivery: 4, stockLevel: 4}

// deck deals transaction types from a shuffled deck of 100 cards holding
// mixWeights cards of each type, reshuffled when empty (5.2.4.2 allows
// such a deck): every 100 consecutive transactions of a terminal follow
// the mix exactly.
type deck struct {
	cards []txnType
	next  int
}

func newDeck() *deck {
	d := &deck{}
	for t, n := range mixWeights {
		for range n {
			d.cards = append(d.cards, txnType(t))
		}
	}
	d.next = len(d.cards)
	return d
}

func (d *deck) deal(r *rand.Rand) txnType {
	if d.next == len(d.cards) {
		r.Shuffle(len(d.cards), func(i, j int) { d.cards[i], d.cards[j] = d.cards[j], d.cards[i] })
		d.next = 0
	}
	t := d.cards[d.next]
	d.next++
	return t
}

// keyingTime is the minimum keying time of each type (5.2.5.7).
var keyingTime = [numTxnTypes]time.Duration{
	newOrder: 18 * time.Second, payment: 3 * time.Second, orderStatus: 2 * time.Second,
	delivery: 2 * time.Second, stockLevel: 2 * time.Second,
}

// meanThinkTime is the mean think time of each type (5.2.5.7).
var meanThinkTime = [numTxnTypes]time.Duration{
	newOrder: 12 * time.Second, payment: 12 * time.Second, orderStatus: 10 * time.Second,
	delivery: 5 * time.Second, stockLevel: 5 * time.Second,
}

// thinkTime draws a think time: negative exponential with the type's
// mean, truncated at ten times the mean (5.2.5.4).
func thinkTime(r *rand.Rand, t txnType) time.Duration {
	mean := meanThinkTime[t]
	u := 1 - r.Float64() // (0, 1]
	d := time.Duration(-math.Log(u) * float64(mean))
	return min(d, 10*mean)
}

// maxTpmCPerWarehouse is the highest New-Order rate per warehouse that
// spec-paced terminals allow (ten terminals, keying and think times):
// efficiency is tpmC relative to it.
const maxTpmCPerWarehouse = 12.86

package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"flashsale/internal/order"
)

// Scenario is what a simulated user posts, as Locust's SyncOrderUser and
// AsyncOrderUser of the study.
type Scenario string

// The scenarios.
const (
	// ScenarioSync posts orders to POST /orders/sync, which pays inside
	// the request (200 completed, 402 declined, 504 timeout).
	ScenarioSync Scenario = "sync"
	// ScenarioAsync posts orders to POST /orders/async, which queues them
	// (202 pending, 503 queue full).
	ScenarioAsync Scenario = "async"
)

// ParseScenario returns the scenario named s.
func ParseScenario(s string) (Scenario, error) {
	switch Scenario(s) {
	case ScenarioSync, ScenarioAsync:
		return Scenario(s), nil
	}
	return "", fmt.Errorf("scenario %q: want sync or async", s)
}

// Path is the endpoint the scenario posts to.
func (s Scenario) Path() string { return "/orders/" + string(s) }

// Name is the request's name in the statistics, as Locust names it:
// method and path.
func (s Scenario) Name() string { return "POST " + s.Path() }

// OrderGenerator makes random valid order requests, as the study's Locust
// users posted: a customer from 1 to 10,000 and one to three items of
// products sku-1 to sku-100, quantity 1 to 5, price 1.00 to 100.00. It is
// not safe for concurrent use; give each user its own.
type OrderGenerator struct {
	rng *rand.Rand
}

// NewOrderGenerator returns a generator whose sequence depends only on seed
// and stream.
func NewOrderGenerator(seed, stream uint64) *OrderGenerator {
	return &OrderGenerator{rng: rand.New(rand.NewPCG(seed, stream))}
}

// Next returns the next random request.
func (g *OrderGenerator) Next() order.Request {
	items := make([]order.Item, 1+g.rng.IntN(3))
	for i := range items {
		items[i] = order.Item{
			ProductID: fmt.Sprintf("sku-%d", 1+g.rng.IntN(100)),
			Quantity:  1 + g.rng.IntN(5),
			Price:     math.Round(100+g.rng.Float64()*9900) / 100,
		}
	}
	return order.Request{CustomerID: 1 + g.rng.Int64N(10_000), Items: items}
}

// NextBody returns the next random request encoded as JSON.
func (g *OrderGenerator) NextBody() []byte {
	b, err := json.Marshal(g.Next())
	if err != nil {
		// order.Request holds only strings, integers and finite floats.
		panic(fmt.Sprintf("loadgen: encode order: %v", err))
	}
	return b
}

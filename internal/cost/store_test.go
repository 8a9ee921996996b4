package cost_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"flashsale/internal/cost"
)

// TestStoreCost checks the order store's arithmetic: write and read request
// units per order, their cost per 1,000 orders, and the month's line items,
// the same in every design.
func TestStoreCost(t *testing.T) {
	// The brief's prices, before DynamoDB halved its on-demand prices.
	oldPrices := func(p *cost.Params) {
		p.Prices.DynamoDBWritesPerMillion, p.Prices.DynamoDBReadsPerMillion = 1.25, 0.25
	}
	// 0.5 KB kept 7 days of a 730-hour month.
	gbMonths := func(orders, kb float64) float64 { return orders * kb / (1024 * 1024) * 168 / 730 }
	tests := []struct {
		name   string
		orders float64
		edit   func(*cost.Params)
		// per order
		writes, reads, wru, rru float64
		// the month: request units and GB-months, and USD
		wantWRU, wantRRU, wantGBMonths float64
		perThousand, monthly           float64
	}{
		{
			// 3,000 WRU + 1,000 RRU = $0.00375 + $0.00025 = $0.004.
			name: "1,000 orders, 1 status read, at $1.25 and $0.25", orders: 1000, edit: oldPrices,
			writes: 3, reads: 1, wru: 3, rru: 1,
			wantWRU: 3000, wantRRU: 1000, wantGBMonths: gbMonths(1000, 0.5),
			perThousand: 0.004, monthly: 0.004,
		},
		{
			// 3,000 WRU x $0.625/M + 1,000 RRU x $0.125/M.
			name: "1,000 orders at the default prices", orders: 1000,
			writes: 3, reads: 1, wru: 3, rru: 1,
			wantWRU: 3000, wantRRU: 1000, wantGBMonths: gbMonths(1000, 0.5),
			perThousand: 0.002, monthly: 0.002,
		},
		{
			name: "no status checks", orders: 10_000, edit: func(p *cost.Params) { p.Store.StatusReads = 0 },
			writes: 3, reads: 0, wru: 3, rru: 0,
			wantWRU: 30_000, wantRRU: 0, wantGBMonths: gbMonths(10_000, 0.5),
			perThousand: 0.001875, monthly: 0.01875,
		},
		{
			// 1 delivery in 5 a duplicate: 1.25 deliveries, 0.25 duplicates an order.
			name: "duplicate rate 0.2", orders: 1000, edit: func(p *cost.Params) { p.Store.DuplicateRate = 0.2 },
			writes: 3.25, reads: 1, wru: 3.25, rru: 1,
			wantWRU: 3250, wantRRU: 1000, wantGBMonths: gbMonths(1000, 0.5),
			perThousand: 3.25*0.000625 + 0.000125, monthly: 3.25*0.000625 + 0.000125,
		},
		{
			// Half the deliveries duplicates: one duplicate an order, 2 writes each.
			name: "duplicate rate 0.5, 2 writes each, 3 reads", orders: 1000,
			edit:   func(p *cost.Params) { p.Store.DuplicateRate, p.Store.DuplicateWrites, p.Store.StatusReads = 0.5, 2, 3 },
			writes: 5, reads: 3, wru: 5, rru: 3,
			wantWRU: 5000, wantRRU: 3000, wantGBMonths: gbMonths(1000, 0.5),
			perThousand: 5*0.000625 + 3*0.000125, monthly: 5*0.000625 + 3*0.000125,
		},
		{
			// 1 KB exactly is still one unit per write.
			name: "1 KB items", orders: 1000, edit: func(p *cost.Params) { p.Store.ItemKB = 1 },
			writes: 3, reads: 1, wru: 3, rru: 1,
			wantWRU: 3000, wantRRU: 1000, wantGBMonths: gbMonths(1000, 1),
			perThousand: 0.002, monthly: 0.002,
		},
		{
			// 5 KB: 5 WRU a write, 2 RRU a strongly consistent read.
			name: "5 KB items", orders: 1000, edit: func(p *cost.Params) { p.Store.ItemKB = 5 },
			writes: 3, reads: 1, wru: 15, rru: 2,
			wantWRU: 15_000, wantRRU: 2000, wantGBMonths: gbMonths(1000, 5),
			perThousand: 15*0.000625 + 2*0.000125, monthly: 15*0.000625 + 2*0.000125,
		},
		{
			// 1M orders a month hold ~0.11 GB at a time: billed without the free tier.
			name: "storage billed, free tier off", orders: 1_000_000, edit: func(p *cost.Params) { p.FreeTierOn = false },
			writes: 3, reads: 1, wru: 3, rru: 1,
			wantWRU: 3_000_000, wantRRU: 1_000_000, wantGBMonths: gbMonths(1e6, 0.5),
			perThousand: 0.002, monthly: 2 + gbMonths(1e6, 0.5)*0.25,
		},
		{
			// 30 days instead of 7, past a free tier of 0.1 GB.
			name: "storage past a smaller free tier", orders: 1_000_000,
			edit:   func(p *cost.Params) { p.Store.Retention, p.Free.DynamoDBStorageGB = 720*time.Hour, 0.1 },
			writes: 3, reads: 1, wru: 3, rru: 1,
			wantWRU: 3_000_000, wantRRU: 1_000_000, wantGBMonths: gbMonths(1e6, 0.5) * 720 / 168,
			perThousand: 0.002, monthly: 2 + (gbMonths(1e6, 0.5)*720/168-0.1)*0.25,
		},
		{
			name: "no store traffic", orders: 1000, edit: func(p *cost.Params) { p.Store.Writes, p.Store.StatusReads = 0, 0 },
			wantGBMonths: gbMonths(1000, 0.5),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := estimate(t, tt.orders, tt.edit)
			first := e.Designs[0].Store
			for _, d := range e.Designs {
				st := d.Store
				if st != first {
					t.Errorf("%s: store %+v, want the same as %s's %+v", d.Name, st, e.Designs[0].Name, first)
				}
				approx(t, d.Name+" writes per order", st.WritesPerOrder, tt.writes, 1e-12)
				approx(t, d.Name+" reads per order", st.ReadsPerOrder, tt.reads, 1e-12)
				approx(t, d.Name+" WRU per order", st.WriteUnitsPerOrder, tt.wru, 1e-12)
				approx(t, d.Name+" RRU per order", st.ReadUnitsPerOrder, tt.rru, 1e-12)
				approx(t, d.Name+" per 1,000 orders", st.PerThousandOrders, tt.perThousand, 1e-12)
				approx(t, d.Name+" a month", st.Monthly, tt.monthly, 1e-12)

				w, r, g := lineItem(t, &d, "DynamoDB writes"), lineItem(t, &d, "DynamoDB reads"), lineItem(t, &d, "DynamoDB storage")
				approx(t, d.Name+" WRU", w.Quantity, tt.wantWRU, 1e-6)
				approx(t, d.Name+" RRU", r.Quantity, tt.wantRRU, 1e-6)
				approx(t, d.Name+" GB-months", g.Quantity, tt.wantGBMonths, 1e-12)
				approx(t, d.Name+" line items", w.Cost+r.Cost+g.Cost, tt.monthly, 1e-12)
				if !w.Common || !r.Common || !g.Common {
					t.Errorf("%s: the store's items are not marked common", d.Name)
				}
			}
			// The store is common: it is in every total, in no design's own cost.
			without := estimate(t, tt.orders, func(p *cost.Params) {
				if tt.edit != nil {
					tt.edit(p)
				}
				p.Store.Writes, p.Store.DuplicateRate, p.Store.StatusReads = 0, 0, 0
				p.Prices.DynamoDBStorageGBMonth = 0
			})
			for i, d := range e.Designs {
				approx(t, d.Name+" total", d.Total, without.Designs[i].Total+tt.monthly, 1e-9)
				approx(t, d.Name+" own", d.Own, without.Designs[i].Own, 0)
			}
		})
	}
}

// TestStoreCostBreakEven: the store costs every design alike, so it moves
// no break-even volume.
func TestStoreCostBreakEven(t *testing.T) {
	base := estimate(t, 0, nil)
	heavy := estimate(t, 0, func(p *cost.Params) {
		p.Store.StatusReads, p.Store.DuplicateRate, p.Store.ItemKB, p.Free.DynamoDBStorageGB = 10, 0.5, 3, 0.01
	})
	for i, be := range base.BreakEven {
		got := heavy.BreakEven[i]
		if be.Orders == nil || got.Orders == nil {
			t.Fatalf("%s: break-even %v and %v", be.Design, be.Orders, got.Orders)
		}
		approx(t, be.Design+" break-even with a heavy store", *got.Orders, *be.Orders, 1e-3)
	}
}

// TestStoreCostValidate: each store parameter out of range is an error that
// names its flag.
func TestStoreCostValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*cost.Params)
		want string
	}{
		{"negative writes", func(p *cost.Params) { p.Store.Writes = -1 }, "(--store-writes): must be 0 or more"},
		{"NaN writes", func(p *cost.Params) { p.Store.Writes = math.NaN() }, "NaN (--store-writes)"},
		{"negative duplicate rate", func(p *cost.Params) { p.Store.DuplicateRate = -0.1 }, "duplicate rate -0.1 (--duplicate-rate)"},
		{"duplicate rate 1", func(p *cost.Params) { p.Store.DuplicateRate = 1 }, "duplicate rate 1 (--duplicate-rate): must be 0 or more and less than 1"},
		{"NaN duplicate rate", func(p *cost.Params) { p.Store.DuplicateRate = math.NaN() }, "duplicate rate NaN (--duplicate-rate)"},
		{"negative duplicate writes", func(p *cost.Params) { p.Store.DuplicateWrites = -1 }, "(--duplicate-writes)"},
		{"infinite duplicate writes", func(p *cost.Params) { p.Store.DuplicateWrites = math.Inf(1) }, "+Inf (--duplicate-writes)"},
		{"negative status reads", func(p *cost.Params) { p.Store.StatusReads = -1 }, "status reads per order -1 (--status-reads): must be 0 or more"},
		{"NaN status reads", func(p *cost.Params) { p.Store.StatusReads = math.NaN() }, "status reads per order NaN (--status-reads)"},
		{"empty items", func(p *cost.Params) { p.Store.ItemKB = 0 }, "item size 0 KB (--store-item-kb)"},
		{"items past 400 KB", func(p *cost.Params) { p.Store.ItemKB = 401 }, "item size 401 KB (--store-item-kb): must be more than 0 and at most 400"},
		{"NaN item size", func(p *cost.Params) { p.Store.ItemKB = math.NaN() }, "(--store-item-kb)"},
		{"no retention", func(p *cost.Params) { p.Store.Retention = 0 }, "retention 0s (--store-retention)"},
		{"negative write price", func(p *cost.Params) { p.Prices.DynamoDBWritesPerMillion = -1 }, "(--price-dynamodb-writes) -1"},
		{"NaN read price", func(p *cost.Params) { p.Prices.DynamoDBReadsPerMillion = math.NaN() }, "(--price-dynamodb-reads) NaN"},
		{"negative storage price", func(p *cost.Params) { p.Prices.DynamoDBStorageGBMonth = -0.25 }, "(--price-dynamodb-storage) -0.25"},
		{"NaN free storage", func(p *cost.Params) { p.Free.DynamoDBStorageGB = math.NaN() }, "(--free-dynamodb-storage) NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cost.Defaults()
			p.Orders = 1000
			tt.edit(&p)
			_, err := cost.Compute(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestStoreCostDefaults: the defaults are the brief's model of the store.
func TestStoreCostDefaults(t *testing.T) {
	st := cost.DefaultStore()
	if st.Writes != 3 || st.DuplicateRate != 0 || st.DuplicateWrites != 1 || st.StatusReads != 1 || st.ItemKB != 0.5 || st.Retention != 7*24*time.Hour {
		t.Errorf("DefaultStore() = %+v", st)
	}
	approx(t, "duplicates per order at 0.1", cost.Store{DuplicateRate: 0.1}.DuplicatesPerOrder(), 1.0/9, 1e-15)
}

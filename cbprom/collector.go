package cbprom

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/internal/metricspec"
	"github.com/tripswitch/tripswitch/registry"
)

// ErrInvalidOption matches, with errors.Is, the error of NewChecked (and
// the value New panics with) for an option given a value it cannot take.
var ErrInvalidOption = errors.New("tripswitch: cbprom: invalid option")

// Option changes how a Collector names its families. A nil Option is
// skipped; of two options setting the same thing, the later wins.
type Option func(*settings) error

type settings struct {
	namespace   string
	constLabels prometheus.Labels
}

// WithNamespace replaces "tripswitch", the first part of every family
// name, with ns: WithNamespace("payments_cb") exports
// payments_cb_calls_total. ns must be a valid metric name of the classic
// character set (letters, digits, underscores and colons, not starting
// with a digit), so the names work in every Prometheus. The dashboard in
// grafana/ assumes the default.
func WithNamespace(ns string) Option {
	return func(s *settings) error {
		if !model.LegacyValidation.IsValidMetricName(ns) {
			return fmt.Errorf("%w: WithNamespace(%s): not a metric name", ErrInvalidOption, strconv.Quote(ns))
		}
		s.namespace = ns
		return nil
	}
}

// WithConstLabels adds labels with fixed values to every series, such as
// {"registry": "outbound"} to tell apart the Collectors of two registries
// registered in one prometheus.Registry. The names must be valid label
// names, not reserved (starting with "__"), and none of the Collector's
// own (name, state, outcome, to, reason); the values must be UTF-8. The
// map is copied.
func WithConstLabels(labels prometheus.Labels) Option {
	return func(s *settings) error {
		var errs []error
		for _, l := range slices.Sorted(maps.Keys(labels)) {
			switch {
			case !model.LegacyValidation.IsValidLabelName(l) || strings.HasPrefix(l, "__"):
				errs = append(errs, fmt.Errorf("%w: WithConstLabels: %s is not a label name of its own", ErrInvalidOption, strconv.Quote(l)))
			case ownLabels[l]:
				errs = append(errs, fmt.Errorf("%w: WithConstLabels: %s is one of the collector's labels", ErrInvalidOption, strconv.Quote(l)))
			case !utf8.ValidString(labels[l]):
				errs = append(errs, fmt.Errorf("%w: WithConstLabels: the value of %s is not UTF-8", ErrInvalidOption, strconv.Quote(l)))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		s.constLabels = maps.Clone(labels)
		return nil
	}
}

// ownLabels are the label names the families use.
var ownLabels = func() map[string]bool {
	own := map[string]bool{metricspec.NameLabel: true}
	for _, f := range &metricspec.Families {
		for _, l := range f.Labels {
			own[l] = true
		}
	}
	return own
}()

// Collector is a prometheus.Collector of every breaker in a registry. Its
// descriptors are fixed; its series follow the breakers registered at each
// scrape. Make it with New and register it once.
type Collector struct {
	reg   *registry.Registry
	descs [metricspec.NumFamilies]*prometheus.Desc
	// layouts lists, for each family, where each of a series' labels
	// comes from, in the sorted order Prometheus keeps them in.
	layouts [metricspec.NumFamilies][]slot
	// maxSamples and maxLabels are the most series and label pairs one
	// breaker has, for the batch Collect allocates per breaker.
	maxSamples, maxLabels int
}

// New returns a Collector of the breakers in reg, which must not be nil.
// It panics, with an error matching ErrInvalidOption, if an option is
// invalid: options are usually constants, and a wrong one is a bug to
// fail on at start-up. Use NewChecked for values read from configuration.
func New(reg *registry.Registry, opts ...Option) *Collector {
	c, err := NewChecked(reg, opts...)
	if err != nil {
		panic(err)
	}
	return c
}

// NewChecked is New for options whose values are not known to be valid:
// it returns an error matching ErrInvalidOption, naming every fault,
// instead of panicking. A nil reg is a bug, not a value, and panics.
func NewChecked(reg *registry.Registry, opts ...Option) (*Collector, error) {
	if reg == nil {
		panic("cbprom: New with a nil *registry.Registry")
	}
	s := settings{namespace: metricspec.Namespace}
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&s); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &Collector{reg: reg}
	for id, f := range &metricspec.Families {
		labels := append([]string{metricspec.NameLabel}, f.Labels...)
		c.descs[id] = prometheus.NewDesc(prometheus.BuildFQName(s.namespace, "", f.Name), f.Help, labels, s.constLabels)
		if err := c.descs[id].Err(); err != nil { // the options are checked, so only a bad family table gets here
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		c.layouts[id] = layout(f, s.constLabels)
	}
	// The most samples one breaker has: a snapshot with a window has them
	// all.
	metricspec.Each(&cb.Metrics{Calls: 1}, func(id metricspec.ID, _ float64, _, _ string) {
		c.maxSamples++
		c.maxLabels += len(c.layouts[id])
	})
	return c, nil
}

// Describe sends the descriptor of every family, so that a
// prometheus.Registry checks each series the Collector sends against them.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect sends the series of every breaker registered now, from one
// Metrics snapshot per breaker. Counters carry the breaker's Created time
// as their created timestamp. Reading a breaker's Metrics makes the
// transition an elapsed open timeout calls for, so Collect may run the
// breakers' listeners, as the registry's own reports do.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, name := range c.reg.Names() {
		circuit, ok := c.reg.Lookup(name)
		if !ok {
			continue // removed since Names: it leaves this scrape already
		}
		m := circuit.Metrics()
		b := c.newBatch(name, circuit.Created())
		metricspec.Each(&m, func(id metricspec.ID, v float64, l1, l2 string) {
			ch <- b.add(c, id, v, l1, l2)
		})
	}
}

var _ prometheus.Collector = (*Collector)(nil)

// A scrape of many breakers is mostly the making of its series, so the
// Collector makes them itself rather than with prometheus.NewConstMetric,
// which allocates a dozen times per series (label pairs, their strings,
// the value, the timestamp). Here a breaker's series share one batch: the
// label pair of its name, its created timestamp, and one block of series
// and one of label pointers; the other label pairs (states, outcomes,
// reasons, constant labels) are made once and shared by every series of
// every scrape. Prometheus treats what a Metric writes as immutable, which
// makes the sharing safe, as it is for its own const metrics.

// slotKind says where a series takes one of its labels from.
type slotKind uint8

const (
	constSlot slotKind = iota // a constant label: slot.pair
	nameSlot                  // the breaker's name
	l1Slot                    // the family's first label
	l2Slot                    // the family's second label
)

// slot is one label of a family's series.
type slot struct {
	kind slotKind
	pair *dto.LabelPair // constSlot
	// values are the label pairs of the label's known values (l1Slot,
	// l2Slot), and name its name, for a value that is not known.
	values map[string]*dto.LabelPair
	name   string
}

// pairFor returns the label pair of value v.
func (s *slot) pairFor(v string) *dto.LabelPair {
	if p, ok := s.values[v]; ok {
		return p
	}
	return newPair(s.name, v) // copies v, so that the hits above do not move it to the heap
}

// layout returns the slots of family f's series, sorted by label name.
func layout(f metricspec.Family, constLabels prometheus.Labels) []slot {
	var slots []slot
	for name, value := range constLabels {
		slots = append(slots, slot{kind: constSlot, name: name, pair: newPair(name, value)})
	}
	slots = append(slots, slot{kind: nameSlot, name: metricspec.NameLabel})
	for i, l := range f.Labels {
		slots = append(slots, slot{kind: l1Slot + slotKind(i), name: l, values: knownPairs[l]})
	}
	slices.SortFunc(slots, func(a, b slot) int { return strings.Compare(a.name, b.name) })
	return slots
}

func newPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

// knownPairs holds, for each label but name, a label pair for each value
// metricspec.Each passes.
var knownPairs = func() map[string]map[string]*dto.LabelPair {
	known := map[string]map[string]*dto.LabelPair{}
	metricspec.Each(&cb.Metrics{Calls: 1}, func(id metricspec.ID, _ float64, l1, l2 string) {
		for i, v := range []string{l1, l2}[:len(metricspec.Families[id].Labels)] {
			name := metricspec.Families[id].Labels[i]
			if known[name] == nil {
				known[name] = map[string]*dto.LabelPair{}
			}
			if known[name][v] == nil {
				known[name][v] = newPair(name, v)
			}
		}
	})
	for _, s := range metricspec.States { // every state, though Each gave the ones reasons lead to
		known["to"][metricspec.StateLabel(s)] = newPair("to", metricspec.StateLabel(s))
	}
	return known
}()

// batch is the memory of one breaker's series in one scrape.
type batch struct {
	name    dto.LabelPair
	value   string
	created timestamppb.Timestamp
	samples []sample
	labels  []*dto.LabelPair
}

func (c *Collector) newBatch(name string, created time.Time) *batch {
	b := &batch{
		value:   name,
		samples: make([]sample, 0, c.maxSamples),
		labels:  make([]*dto.LabelPair, c.maxLabels),
	}
	b.name.Name, b.name.Value = &nameLabel, &b.value
	b.created.Seconds, b.created.Nanos = created.Unix(), int32(created.Nanosecond())
	return b
}

var nameLabel = metricspec.NameLabel

// add returns the series of family id with value v and label values l1,
// l2, in the batch's memory while it lasts.
func (b *batch) add(c *Collector, id metricspec.ID, v float64, l1, l2 string) *sample {
	lay := c.layouts[id]
	if len(b.labels) < len(lay) || len(b.samples) == cap(b.samples) {
		// Never with metricspec's samples; a new one would not break the
		// series sent already, which point into the batch.
		b.labels = make([]*dto.LabelPair, c.maxLabels)
		b.samples = make([]sample, 0, c.maxSamples)
	}
	labels := b.labels[:len(lay):len(lay)]
	b.labels = b.labels[len(lay):]
	for i := range lay {
		switch s := &lay[i]; s.kind {
		case constSlot:
			labels[i] = s.pair
		case nameSlot:
			labels[i] = &b.name
		case l1Slot:
			labels[i] = s.pairFor(l1)
		case l2Slot:
			labels[i] = s.pairFor(l2)
		}
	}
	b.samples = append(b.samples, sample{desc: c.descs[id], labels: labels, value: v})
	smp := &b.samples[len(b.samples)-1]
	if metricspec.Families[id].Kind == metricspec.Counter {
		smp.created = &b.created
	}
	return smp
}

// sample is one series of one scrape: a prometheus.Metric whose parts
// live in its breaker's batch.
type sample struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
	// created is set on counters, and only on them.
	created *timestamppb.Timestamp
}

// Desc returns the descriptor of the series' family.
func (s *sample) Desc() *prometheus.Desc { return s.desc }

// Write writes the series as a counter (with its created timestamp) or a
// gauge.
func (s *sample) Write(out *dto.Metric) error {
	out.Label = s.labels
	if s.created != nil {
		out.Counter = &dto.Counter{Value: &s.value, CreatedTimestamp: s.created}
	} else {
		out.Gauge = &dto.Gauge{Value: &s.value}
	}
	return nil
}

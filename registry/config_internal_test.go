package registry

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// nonZero sets field i of c to a non-zero value of its type, so that the
// helpers can be checked against every field cb.Config has, including
// fields added after they were written.
func nonZero(t *testing.T, c *cb.Config, i int) {
	t.Helper()
	f := reflect.ValueOf(c).Elem().Field(i)
	switch f.Kind() {
	case reflect.Int, reflect.Int64:
		f.SetInt(1)
	case reflect.Float64:
		f.SetFloat(0.25)
	case reflect.Func:
		f.Set(reflect.MakeFunc(f.Type(), func([]reflect.Value) []reflect.Value {
			panic("not called")
		}))
	case reflect.Interface:
		f.Set(reflect.ValueOf(cbtest.NewClock()))
	default:
		t.Fatalf("cb.Config.%s has kind %s: teach nonZero (and the registry's config helpers) about it",
			reflect.TypeFor[cb.Config]().Field(i).Name, f.Kind())
	}
}

func TestConfigHelpersCoverEveryField(t *testing.T) {
	typ := reflect.TypeFor[cb.Config]()
	require.Positive(t, typ.NumField())
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		t.Run(name, func(t *testing.T) {
			var zero, c cb.Config
			nonZero(t, &c, i)
			assert.False(t, isZeroConfig(&c), "isZeroConfig ignores %s", name)
			assert.Equal(t, []string{name}, configDiff(&zero, &c))
			assert.Equal(t, []string{name}, configDiff(&c, &zero))
			assert.Nil(t, configDiff(&c, &c))
		})
	}
	assert.True(t, isZeroConfig(&cb.Config{}))
}

func TestConfigDiffListsFieldsInOrder(t *testing.T) {
	a := cb.Config{OpenTimeout: time.Second, Window: time.Minute, MinimumCalls: 3}
	b := cb.Config{OpenTimeout: 2 * time.Second, Window: time.Minute, Buckets: 6}
	assert.Equal(t, []string{"Buckets", "MinimumCalls", "OpenTimeout"}, configDiff(&a, &b))
}

func isTimeout(err error) bool { return errors.Is(err, errTimeout) }

func isOther(err error) bool { return err != nil }

var errTimeout = errors.New("timeout")

func TestSameFunc(t *testing.T) {
	assert.True(t, sameFunc[func(error) bool](nil, nil))
	assert.True(t, sameFunc(isTimeout, isTimeout))
	assert.False(t, sameFunc(isTimeout, isOther))
	assert.False(t, sameFunc(isTimeout, nil))
	assert.False(t, sameFunc(nil, isOther))

	// Closures made by one literal in one function are one function here,
	// whatever they capture: a Get in a loop or a handler passes a new
	// closure each time and must not conflict with itself.
	counts := make([]int, 2)
	var listeners []func(cb.Transition)
	for i := range counts {
		listeners = append(listeners, func(cb.Transition) { counts[i]++ })
	}
	assert.True(t, sameFunc(listeners[0], listeners[1]))
}

type funcClock func() time.Duration

func (f funcClock) Now() time.Duration { return f() }

type sliceClock []time.Duration

func (s sliceClock) Now() time.Duration { return s[0] }

type mapClock map[int]time.Duration

func (m mapClock) Now() time.Duration { return m[0] }

type valueClock struct{ at time.Duration }

func (v valueClock) Now() time.Duration { return v.at }

// wrapClock is comparable as a type, but == panics when it holds a clock
// that is not.
type wrapClock struct{ inner cb.Clock }

func (w wrapClock) Now() time.Duration { return w.inner.Now() }

func zeroNow() time.Duration { return 0 }

func oneNow() time.Duration { return 1 }

func TestSameClock(t *testing.T) {
	c1, c2 := cbtest.NewClock(), cbtest.NewClock()
	s := sliceClock{1, 2}
	m := mapClock{0: 1}
	tests := []struct {
		name string
		a, b cb.Clock
		same bool
	}{
		{"both nil", nil, nil, true},
		{"nil and set", nil, c1, false},
		{"set and nil", c1, nil, false},
		{"same pointer", c1, c1, true},
		{"other pointer", c1, c2, false},
		{"other types", c1, valueClock{}, false},
		{"equal values", valueClock{3}, valueClock{3}, true},
		{"other values", valueClock{3}, valueClock{4}, false},
		{"same func", funcClock(zeroNow), funcClock(zeroNow), true},
		{"other func", funcClock(zeroNow), funcClock(oneNow), false},
		{"same slice", s, s, true},
		{"shorter slice", s, s[:1], false},
		{"copied slice", s, append(sliceClock(nil), s...), false},
		{"same map", m, m, true},
		{"other map", m, mapClock{0: 1}, false},
		{"comparable wrappers", wrapClock{c1}, wrapClock{c1}, true},
		{"wrappers of a slice", wrapClock{s}, wrapClock{s}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.same, sameClock(tt.a, tt.b))
		})
	}
}

// The check Get makes on every call for an existing name must not
// allocate: services call Get on their request paths.
func TestGetExistingDoesNotAllocate(t *testing.T) {
	r := New()
	cfg := cb.Config{Clock: cbtest.NewClock(), OpenTimeout: time.Second, IsFailure: isOther}
	_, err := Get[int](r, "db", cfg)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Get[int](r, "db", cb.Config{}); err != nil {
			panic(err)
		}
		if _, err := Get[int](r, "db", cfg); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
}

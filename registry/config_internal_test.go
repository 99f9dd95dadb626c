package registry

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// nonZero sets field i of c to a non-zero value of its type and reports
// whether Get compares the field, so that the helpers can be checked
// against every field cb.Config has, including fields added after they
// were written.
func nonZero(t *testing.T, c *cb.Config, i int) (compared bool) {
	t.Helper()
	f := reflect.ValueOf(c).Elem().Field(i)
	switch f.Kind() {
	case reflect.Int, reflect.Int64:
		f.SetInt(1)
		return true
	case reflect.Float64:
		f.SetFloat(0.25)
		return true
	case reflect.Bool:
		f.SetBool(true)
		return true
	case reflect.Func:
		f.Set(reflect.MakeFunc(f.Type(), func([]reflect.Value) []reflect.Value {
			panic("not called")
		}))
		return false
	case reflect.Interface:
		f.Set(reflect.ValueOf(cbtest.NewClock()))
		return false
	default:
		t.Fatalf("cb.Config.%s has kind %s: teach nonZero (and the registry's config helpers) about it",
			reflect.TypeFor[cb.Config]().Field(i).Name, f.Kind())
		return false
	}
}

func TestConfigHelpersCoverEveryField(t *testing.T) {
	typ := reflect.TypeFor[cb.Config]()
	require.Positive(t, typ.NumField())
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		t.Run(name, func(t *testing.T) {
			var zero, c cb.Config
			compared := nonZero(t, &c, i)
			assert.False(t, isZeroConfig(&c), "isZeroConfig ignores %s", name)
			if compared {
				assert.Equal(t, []string{name}, configDiff(&zero, &c))
				assert.Equal(t, []string{name}, configDiff(&c, &zero))
			} else {
				assert.Nil(t, configDiff(&zero, &c), "%s is a func or a Clock: never compared", name)
				assert.Nil(t, configDiff(&c, &zero))
			}
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

// The check Get makes on every call for an existing name must not
// allocate: services call Get on their request paths. A bounded registry
// notes the use, without allocating either.
func TestGetExistingDoesNotAllocate(t *testing.T) {
	for name, r := range map[string]*Registry{
		"unbounded": New(),
		"bounded":   New(WithMaxBreakers(4), WithIdleTimeout(time.Minute), WithClock(cbtest.NewClock())),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := cb.Config{Clock: cbtest.NewClock(), OpenTimeout: time.Second, IsFailure: func(err error) bool { return err != nil }}
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
		})
	}
}

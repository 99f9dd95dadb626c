package registry

import (
	"errors"
	"reflect"
	"runtime"
	"strings"

	"github.com/tripswitch/tripswitch/cb"
)

var errNilFunc = errors.New("tripswitch: registry: Wrap of a nil function")

// Wrap returns fn guarded by the breaker named name, got as Get gets it
// (with its errors, and with cfg compared the same way). An empty name
// means fn's own name, such as "example.com/shop/pricing.Quote".
//
// The returned function runs fn through the breaker and returns fn's value
// and error unchanged; when the breaker rejects the call, fn does not run
// and the function returns the zero T and an error matching cb.ErrOpen (a
// *cb.OpenError). A panic in fn counts as a failure and goes on. Callers
// that need more of the outcome (RetryAfter, Slow...) should Get the
// breaker and call Execute.
//
// The function holds its breaker: in a registry that evicts, calls through
// it count as use, but once it has been left unused past the idle timeout
// and evicted, it goes on with the evicted breaker, out of the reports
// (see the package doc).
func Wrap[T any](r *Registry, name string, cfg cb.Config, fn func() (T, error)) (func() (T, error), error) {
	if fn == nil {
		return nil, errNilFunc
	}
	if name == "" {
		name = funcName(fn)
	}
	b, err := Get[T](r, name, cfg)
	if err != nil {
		return nil, err
	}
	return func() (T, error) {
		v, res := b.Execute(fn)
		return v, res.Err
	}, nil
}

// funcName is the name the runtime gives fn, without the "-fm" the
// compiler appends to method values: "pkg.(*T).M" is what a reader knows
// it as. It is "" only if the runtime knows no function at fn's address.
func funcName(fn any) string {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return ""
	}
	return strings.TrimSuffix(f.Name(), "-fm")
}

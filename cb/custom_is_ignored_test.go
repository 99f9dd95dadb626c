package cb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// A config that sets only IsIgnored keeps the default IsFailure (any error
// not ignored fails; nil succeeds): a user who only wants one more error
// ignored must not lose failure detection. The custom IsIgnored replaces
// the default one, so context.Canceled then counts as a failure.
func TestCustomIsIgnoredKeepsDefaultIsFailure(t *testing.T) {
	errBusy := errors.New("busy: try later")
	f := newRuleFixture(t, throughExecute, cb.Config{
		ConsecutiveFailures: 3,
		IsIgnored:           func(err error) bool { return errors.Is(err, errBusy) },
	})

	r := f.call(0, errBusy)
	assert.Equal(t, cb.Ignored, r.Outcome, "the custom IsIgnored decides first")
	r = f.ok()
	assert.Equal(t, cb.Success, r.Outcome, "a nil error succeeds")
	r = f.fail()
	assert.Equal(t, cb.Failure, r.Outcome, "an error not ignored fails, as by default")
	r = f.call(0, context.Canceled)
	assert.Equal(t, cb.Failure, r.Outcome, "the default IsIgnored is replaced, not added to")

	m := f.m()
	assert.Equal(t, uint64(1), m.TotalIgnored)
	assert.Equal(t, uint64(3), m.TotalCalls)
	assert.Equal(t, uint64(2), m.ConsecutiveFailures)
	require.Equal(t, cb.Closed, m.State)
	f.fail()
	assert.Equal(t, cb.Open, f.b.State(), "the failures IsFailure saw trip the breaker")
}

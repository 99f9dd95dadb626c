package cbgrpc_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbgrpc"
)

// Many goroutines call and stream through one Client while the backend
// flips between failing and healthy and the clock moves: whatever the
// interleaving, a call the breaker rejects never reaches the server, every
// admitted call is settled once, and the race detector sees nothing.
func TestConcurrentCallsAndStreams(t *testing.T) {
	clk := cbtest.NewClock()
	be := newBackend(t, nil)
	guard := &cbgrpc.Client{Config: cb.Config{
		Clock: clk, ConsecutiveFailures: 3, OpenTimeout: time.Second, SuccessThreshold: 1,
	}}
	conn := dial(t, be.addr, guard)

	// Every Watch must end by itself, and a healthy one would not.
	be.failWith(checkMethod, codes.Unavailable)
	be.fail(watchMethod, fault{code: codes.Unavailable})

	const workers, calls = 8, 60
	var (
		rejected, sent atomic.Int64
		wg             sync.WaitGroup
		errs           = make(chan error, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				switch {
				case w == 0 && i%10 == 0:
					be.failWith(checkMethod, codes.Unavailable)
					be.fail(watchMethod, fault{code: codes.Unavailable})
				case w == 0 && i%10 == 5:
					be.heal(checkMethod)
					be.fail(watchMethod, fault{endOK: true})
					clk.Advance(time.Second)
				}
				var err error
				if i%3 == 0 {
					err = streamOnce(conn, i%2 == 0)
				} else {
					err = check(conn)
				}
				if errors.Is(err, cb.ErrOpen) {
					rejected.Add(1)
				} else {
					sent.Add(1)
				}
				if err != nil && !errors.Is(err, cb.ErrOpen) && !isStatus(err, codes.Unavailable, codes.Canceled) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	assert.Equal(t, int(sent.Load()), be.reached(checkMethod)+be.reached(watchMethod),
		"exactly the calls not rejected reached the server")
	assert.Positive(t, rejected.Load(), "the breakers tripped")
	// Abandoned streams are settled by their context's watch, on a
	// goroutine of its own.
	eventually(t, func() bool {
		var settled uint64
		for _, m := range guard.Breakers().AllMetrics() {
			settled += m.TotalCalls + m.TotalIgnored + m.TotalStale
		}
		return settled == uint64(sent.Load())
	}, "every admitted call settled once")
	var rejectedByBreakers uint64
	for _, m := range guard.Breakers().AllMetrics() {
		rejectedByBreakers += m.TotalRejected
		assert.Zero(t, m.HalfOpenInFlight, "%s: no permit left out", m.Name)
	}
	assert.Equal(t, uint64(rejected.Load()), rejectedByBreakers)
}

// isStatus reports whether err is a status with one of codes.
func isStatus(err error, want ...codes.Code) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	for _, c := range want {
		if st.Code() == c {
			return true
		}
	}
	return false
}

// streamOnce opens a Watch and reads it to its end, or reads one message
// and cancels it. Its timeout only keeps a bug from hanging the test.
func streamOnce(conn *grpc.ClientConn, abandon bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := watch(ctx, conn)
	if err != nil {
		return err
	}
	if abandon {
		if _, err := w.Recv(); err != nil {
			return err
		}
		cancel()
		return nil
	}
	_, err = recvStatus(w)
	return err
}

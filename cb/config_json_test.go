package cb_test

// Config's JSON: every value field, durations as strings, Off as "off",
// a decode that sets only the keys it is given.

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

func TestConfigJSON(t *testing.T) {
	cfg := cb.Config{
		Window: 90 * time.Second, Buckets: 9, MinimumCalls: 4, FailureRateThreshold: 0.25,
		ConsecutiveFailures: cb.Off, SlowCallDuration: 1500 * time.Millisecond, SlowCallRateThreshold: cb.Off,
		OpenTimeout: time.Minute, MaxOpenTimeout: time.Hour, SuccessThreshold: 2, HalfOpenMaxCalls: 3,
		HalfOpenTimeout: 10 * time.Second, Shadow: true,
	}
	data, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"window": "1m30s", "buckets": 9, "minimum_calls": 4, "failure_rate_threshold": 0.25,
		"consecutive_failures": "off", "slow_call_duration": "1.5s", "slow_call_rate_threshold": "off",
		"open_timeout": "1m0s", "max_open_timeout": "1h0m0s", "success_threshold": 2, "half_open_max_calls": 3,
		"half_open_timeout": "10s", "shadow": true
	}`, string(data))
	var back cb.Config
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, cfg, back)

	data, err = json.Marshal(cb.Config{WindowCalls: 20, FailureRateThreshold: cb.Off, SlowCallDuration: cb.Off})
	require.NoError(t, err)
	assert.JSONEq(t, `{"window_calls": 20, "failure_rate_threshold": "off", "slow_call_duration": "off"}`, string(data))

	data, err = json.Marshal(cb.Config{IsFailure: func(error) bool { return true }, Clock: cbtest.NewClock()})
	require.NoError(t, err)
	assert.JSONEq(t, `{}`, string(data), "the zero values, funcs and Clock are left out")
}

// Every value field of Config has a key, found by walking the struct: a
// field added later and forgotten in the JSON fails here.
func TestConfigJSONCoversEveryValueField(t *testing.T) {
	typ := reflect.TypeFor[cb.Config]()
	for i := range typ.NumField() {
		field := typ.Field(i)
		var c cb.Config
		v := reflect.ValueOf(&c).Elem().Field(i)
		switch v.Kind() {
		case reflect.Int, reflect.Int64:
			v.SetInt(2)
		case reflect.Float64:
			v.SetFloat(0.5)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Func, reflect.Interface:
			continue // code, not values
		default:
			t.Fatalf("Config.%s has kind %s: teach the JSON about it", field.Name, v.Kind())
		}
		data, err := json.Marshal(c)
		require.NoError(t, err)
		var keys map[string]any
		require.NoError(t, json.Unmarshal(data, &keys))
		assert.Len(t, keys, 1, "Config.%s has a key", field.Name)
		var back cb.Config
		require.NoError(t, json.Unmarshal(data, &back))
		assert.True(t, reflect.DeepEqual(c, back), "Config.%s round-trips", field.Name)
	}
}

// Decoding sets only the keys given (null leaves a field alone), keeps the
// funcs and Clock, takes Off as "off" or its own value, and refuses
// unknown keys and values of the wrong form, naming each, changing
// nothing.
func TestConfigJSONDecode(t *testing.T) {
	isFailure := func(error) bool { return true }
	cfg := cb.Config{OpenTimeout: time.Minute, SuccessThreshold: 5, IsFailure: isFailure}
	require.NoError(t, json.Unmarshal([]byte(`{"open_timeout": "30s", "success_threshold": null, "consecutive_failures": -1, "slow_call_duration": "-1ns", "failure_rate_threshold": -1}`), &cfg))
	assert.Equal(t, 30*time.Second, cfg.OpenTimeout)
	assert.Equal(t, 5, cfg.SuccessThreshold)
	assert.Equal(t, cb.Off, cfg.ConsecutiveFailures)
	assert.Equal(t, time.Duration(cb.Off), cfg.SlowCallDuration)
	assert.InDelta(t, cb.Off, cfg.FailureRateThreshold, 0)
	assert.NotNil(t, cfg.IsFailure)

	before := cfg
	before.IsFailure = nil
	err := json.Unmarshal([]byte(`{"open_timeout": 30, "buckets": "off", "shadow": "yes", "windows": 3, "open_timeout_ms": 1, "window": "1m"}`), &cfg)
	require.ErrorIs(t, err, cb.ErrInvalidConfig)
	assert.Equal(t, []string{"Buckets", "OpenTimeout", "Shadow", "open_timeout_ms", "windows"}, configErrorFields(err))
	assert.Contains(t, err.Error(), `OpenTimeout = 30: must be a duration string such as "10s"`)
	cfg.IsFailure = nil
	assert.Equal(t, before, cfg, "nothing changes on an error")

	assert.ErrorIs(t, json.Unmarshal([]byte(`[1]`), &cfg), cb.ErrInvalidConfig)
}

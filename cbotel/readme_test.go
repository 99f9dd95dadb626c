package cbotel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/internal/exporttest"
)

// The setup the README shows builds as shown.
func TestREADMEGoBlocksBuild(t *testing.T) {
	require.NoError(t, exporttest.BuildREADME("."))
}

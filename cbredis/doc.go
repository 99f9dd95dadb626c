// Package cbredis shares circuit breakers across the replicas of a
// service through Redis, so that the fleet opens together, probes once
// and closes together, while every call is still decided locally: the
// call path never touches the network.
//
// Placeholder: the full model is documented below.
package cbredis

// Package metricspec is the one description of the metric families that
// the exporter modules (cbprom for Prometheus, cbotel for OpenTelemetry)
// publish, and the one place that turns a cb.Metrics into samples. Both
// exporters walk the same table and the same samples, so the Prometheus
// families that cbprom writes and the ones the usual OpenTelemetry to
// Prometheus translation makes of cbotel's instruments cannot drift apart
// by a label value or a rounding; cbotel's tests check the names.
//
// It lives in the root module, with no dependency beyond cb, so that the
// library still pulls nothing extra, and under internal/ so that it is no
// API: the exporters' docs describe the families to users.
//
// Each reads nothing but the snapshot it is given and keeps no state, so
// concurrent collections may call it at once; the tables are never
// written after package initialisation.
package metricspec

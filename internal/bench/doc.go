// Package bench owns the scenarios that `jetflow bench` runs. Each scenario
// measures a jetflow operation and the raw JetStream operation it is built
// on, in the same run against the same embedded server, and reports both
// rates and their ratio; latency scenarios report percentiles as well.
package bench

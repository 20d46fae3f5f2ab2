// Package soak holds the end-to-end fault tests of the whole system: real
// pace runs, real pace-telemetryd daemons, real receivers (function/cmd/receiver)
// on a real PostgreSQL and a real VictoriaMetrics, while receivers,
// PostgreSQL and daemons are killed, crashed and stopped; and the daemon's
// answer to a receiver's 429. It has only tests.
package soak

// Package receiver is pace's telemetry receiver: it validates the uploads
// of pace CLIs, which it cannot authenticate, and hands them, as one
// neutral sink.Upload, to the store TELEMETRY_SINK names: Graphite tagged
// series, Prometheus samples by remote write, or PostgreSQL.
//
// It is served two ways: as a Google Cloud Function (the root package of
// this module, a shim that registers a Receiver) and self-hosted
// (cmd/receiver). Both read one Config (config.go, LoadConfig) and build
// one Receiver from it (receiver.go), which opens the store on the first
// request that needs it.
//
// POST / (any path but the ones below) with the JSON body of
// payload.Payload answers 200 "OK" (the body PACE's original CLI expects)
// with the number of counters of unknown command paths, which were
// dropped, in the X-Pace-Dropped header. Bad input gets a 4xx and
// {"error":"<field>: <what is wrong>"}; a failing store, or one that
// cannot be reached, gets 503 with Retry-After, so the client keeps its
// data and retries. A store that refuses the data itself (such as
// out-of-order samples) gets 422, so the client does not send the same
// data again; its next upload carries the counts, which are cumulative.
// Too many uploads from one source address (TELEMETRY_SOURCE says where it
// is read) get 429 with Retry-After: the client keeps its data and waits.
//
// POST <path>/forget with {"id":"<uuid>"} is an installation's erasure
// request (forget.go): the store deletes what it keeps under the id, or
// answers 501 when its write protocol cannot delete.
//
// GET /healthz answers 200 while the process serves; GET /readyz 200 when
// the store can be reached, else 503 (health.go), for the probes of Cloud
// Run and Kubernetes.
package receiver

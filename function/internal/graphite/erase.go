package graphite

// CannotErase answers an installation's erasure request: Graphite's
// ingest protocols (plaintext carbon, the hosted HTTP API) write series
// and cannot delete them.
func (s *Sink) CannotErase() string {
	return "this receiver writes to Graphite, whose ingest protocols cannot delete series; " +
		"the store's operator deletes an installation's series by removing its whisper files " +
		"(and their entries in the tag index: graphite-web's /tags/delSeries), as docs/deploy.md says under \"Erasure requests\""
}

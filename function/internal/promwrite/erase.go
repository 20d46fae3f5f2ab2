package promwrite

// CannotErase answers an installation's erasure request: Prometheus
// remote write appends samples and cannot delete series.
func (s *Sink) CannotErase() string {
	return "this receiver writes by Prometheus remote write, which cannot delete series; " +
		"the store's operator deletes an installation's series with its admin API: " +
		"Prometheus POST /api/v1/admin/tsdb/delete_series?match[]={id=\"…\"} (with --web.enable-admin-api) then clean_tombstones, " +
		"VictoriaMetrics /api/v1/admin/tsdb/delete_series?match[]={id=\"…\"}, as docs/deploy.md says under \"Erasure requests\""
}

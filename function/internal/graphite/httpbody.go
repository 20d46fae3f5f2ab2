package graphite

import (
	"encoding/json"
	"fmt"
	"strings"
)

// httpSample is one element of the Graphite HTTP API's JSON array.
type httpSample struct {
	Name     string   `json:"name"`
	Interval int      `json:"interval"`
	Value    uint64   `json:"value"`
	Time     int64    `json:"time"`
	Tags     []string `json:"tags"`
	MType    string   `json:"mtype"`
}

// HTTPBody returns the JSON array that the Graphite HTTP API takes. The
// values are cumulative counts, hence mtype "count".
func HTTPBody(series []Series) ([]byte, error) {
	if err := validate(series); err != nil {
		return nil, err
	}
	samples := make([]httpSample, len(series))
	for i, s := range series {
		tags := make([]string, len(s.Tags))
		for j, t := range s.Tags {
			tags[j] = t.Key + "=" + t.Value
		}
		samples[i] = httpSample{Name: s.Name, Interval: s.Interval, Value: s.Value, Time: s.Time, Tags: tags, MType: "count"}
	}
	return json.Marshal(samples)
}

// checkReply fails when a 2xx reply still says samples were rejected, as
// Grafana's endpoint does for samples it finds too old or malformed.
func checkReply(reply []byte) error {
	var r struct {
		Invalid int
	}
	if len(strings.TrimSpace(string(reply))) == 0 || json.Unmarshal(reply, &r) != nil {
		return nil
	}
	if r.Invalid > 0 {
		return fmt.Errorf("graphite http: %d samples rejected: %.200q", r.Invalid, reply)
	}
	return nil
}

package streams

import (
	"encoding/json"
	"reflect"
	"testing"
)

// What the server answers a publish: acks as it formats them, duplicates,
// refusals, and forms only encoding/json reads.
var pubAckSeeds = []string{
	`{"stream":"EVENTS", "seq":42}`,
	`{"stream":"EVENTS","seq":42}`,
	`{"stream":"EVENTS", "domain":"hub", "seq":7}`,
	`{"stream":"EVENTS","seq":9,"duplicate": true}`,
	`{"stream":"EVENTS","seq":9,"duplicate":true}`,
	`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"},"stream":"EVENTS","seq":0}`,
	`{"error":{"code":503,"err_code":10077,"description":"JetStream system temporarily unavailable"}}`,
	`{"stream":"EV\u0045NTS","seq":1}`,
	`{"Stream":"EVENTS","SEQ":3}`,
	`{"stream":"EVENTS","seq":18446744073709551615}`,
	`{"stream":"EVENTS","seq":18446744073709551616}`,
	`{"stream":"EVENTS","seq":1,"seq":2}`,
	`{"stream":"EVENTS","seq":1e3}`,
	`{"stream":"EVENTS","seq":-1}`,
	`{"stream":null,"seq":1}`,
	` { } `,
	`{"stream":"EVENTS","seq":1}x`,
	`{"stream":"EVENTS","seq":1,}`,
}

// FuzzParsePubAck holds the direct reading of a publish reply to
// encoding/json: the same ack or refusal when it accepts, an error
// exactly when encoding/json gives one.
func FuzzParsePubAck(f *testing.F) {
	for _, s := range pubAckSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parsePubAck(data)
		var want pubAck
		wantErr := json.Unmarshal(data, &want)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, encoding/json %v", data, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v, encoding/json %+v", data, got, want)
		}
	})
}

// The server's own formats take the direct path.
func TestServerAcksAreReadDirectly(t *testing.T) {
	t.Parallel()
	for _, s := range pubAckSeeds[:4] {
		if _, ok := parseFlatPubAck([]byte(s)); !ok {
			t.Errorf("%s went to encoding/json", s)
		}
	}
}

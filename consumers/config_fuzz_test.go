package consumers

import (
	"bytes"
	"testing"
)

// FuzzLoadWorkerConfig: a worker's JSON configuration file either loads
// into a valid configuration or is refused with a message; never a panic.
func FuzzLoadWorkerConfig(f *testing.F) {
	f.Add([]byte(`{"Subscriptions":[{"Name":"b","Topic":"orders","Webhook":{"URL":"http://h/x"}}]}`))
	f.Add([]byte(`{"Topics":[{"Name":"Bad.Name"}]}`))
	f.Add([]byte(`{"Subscriptions":[{"Name":"b","Topic":"orders","Filters":[{"field":"a","operator":"equals","value":1}],"Webhook":{"URL":"x"}}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := LoadWorkerConfig(bytes.NewReader(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("LoadWorkerConfig accepted an invalid configuration: %v", verr)
		}
	})
}

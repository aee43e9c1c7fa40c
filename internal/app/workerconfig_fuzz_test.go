package app

import (
	"bytes"
	"testing"
)

// FuzzLoadWorkerConfig: a worker's JSON file either loads into a valid
// configuration or is refused with a message; never a panic.
func FuzzLoadWorkerConfig(f *testing.F) {
	f.Add([]byte(`{"subscriptions":[{"name":"b","topic":"orders","webhook":{"url":"http://h/x"}}]}`))
	f.Add([]byte(`{"topics":[{"name":"Bad.Name"}]}`))
	f.Add([]byte(`{"subscriptions":[{"name":"b","topic":"orders","filters":[{"field":"a","operator":"equals","value":1}],"max_retries":0,"backoff":["1s"],"webhook":{"url":"x"}}]}`))
	f.Add([]byte(`{"dlq":{"retention":"-1s"},"shutdown_grace":"1h"} {}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := loadWorkerConfig(bytes.NewReader(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("loadWorkerConfig accepted an invalid configuration: %v", verr)
		}
	})
}

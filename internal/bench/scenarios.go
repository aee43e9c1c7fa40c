package bench

// Scenarios lists every scenario in the order `jetflow bench` runs them.
func Scenarios() []Scenario {
	return []Scenario{
		appendScenario(),
		appendConcurrentScenario(),
		appendBatchScenario(),
		loadScenario(),
		commandScenario(),
		loadSnapshotScenario(),
		publishScenario(),
		workerScenario(),
		projectionScenario(),
		queryScenario(),
	}
}

package bench

// Scenarios lists every scenario in the order `jetflow bench` runs them.
func Scenarios() []Scenario {
	return []Scenario{
		appendScenario(),
		appendConcurrentScenario(),
		appendBatchScenario(),
		appendBatchConcurrentScenario(),
		loadScenario(),
		commandScenario(),
		commandMultiScenario(),
		loadSnapshotScenario(),
		publishScenario(),
		workerScenario(),
		processScenario(),
		projectionScenario(),
		queryScenario(),
	}
}

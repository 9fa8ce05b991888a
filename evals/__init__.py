"""trustrec evaluations: metrics, protocols, baselines, suites, reports and benchmarks."""

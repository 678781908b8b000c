"""Speed, memory, size and accuracy benchmarks; never part of the test suite (testpaths is tests/).

`make benchmark` (pytest-benchmark: latency, preprocessing, capture loop, start-up, memory, sizes),
`python -m benchmarks.report` (tables and plots for docs/performance.md),
`python -m benchmarks.accuracy` (float vs int8 accuracy per class on a real dataset).
"""

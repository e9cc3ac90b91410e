"""gunicorn settings for the benchmarks: the project's, without the access log (a line per request to a
pipe costs ~0.1 ms, which would hide what the benchmark compares). Production keeps its access log."""

accesslog = None

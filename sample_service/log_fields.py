"""Keys of the service's JSON log lines the infrastructure reads, importable without the service's
dependencies."""

# Every line's own time, ISO 8601 in UTC (sample_service.logs); Azure's collection rule parses it.
TIME = "time"

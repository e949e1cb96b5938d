"""Speed measurements: whole training loops and their compiled updates (`throughput`), raw
environment steps (`env_throughput`), and an exported policy's acting (`export_speed`)."""

"""Speed measurements: whole training loops and their compiled updates (`throughput`, with the loops
in `loops` and `tf_agents_loop`), raw environment steps (`env_throughput`), and an exported policy's
acting (`export_speed`)."""

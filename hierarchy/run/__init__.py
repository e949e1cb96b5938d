"""A training run configured with gin: the loop, its files, faults, metrics and evaluation.

  runner.py         the training loop (`train`, `Runner`)
  settings.py       `RunSettings`: the run's `train.*` gin bindings, one frozen value
  config.py         gin files, parsing and the checks gin cannot make
  assembly.py       a run's environments and agent, built from the configuration
  checkpointing.py  crash-safe checkpoints of the agent and the loop (`LoopState`)
  records.py        records (dataclasses, arrays, lists, numbers) as one npz and one JSON text
  resilience.py     SIGTERM and Ctrl-C, open episodes, the run directory's lock, extension
  failures.py       the errors that stop a run, each naming what is intact
  files.py          atomic writes and the names of a run directory's files
  metrics.py        JSON-lines rows, TensorBoard, the learning curve
  progress.py       the progress line
  evaluation.py     evaluation episodes of an agent
  saved_run.py      restoring and evaluating a saved run
"""

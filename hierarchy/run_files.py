"""The files of a run directory: their names, in one public place for the library and its users
(benchmarks/sweeps/sweep.py and benchmarks/analysis/aggregate.py read runs through these names).

What a training run (`hierarchy.runner.train`) writes into its `root_dir`:
  config.gin             the full gin configuration at start (`gin.config_str()`); a later run in the
                         same root_dir must have the same text, else it stops (ConfigMismatchError)
  operative_config.gin   the parameters actually used, defaults included
  train_metrics.jsonl    one row per training episode   } formats: `hierarchy.metrics`
  eval_metrics.jsonl     one row per evaluation         }
  tensorboard/           TensorBoard event files: the same metrics, plus steps/s; a restart marker
                         per (re)start makes TensorBoard drop the dead run's events after its checkpoint
  checkpoints/           crash-safe checkpoints (`hierarchy.checkpointing`), the newest `keep_checkpoints`
  learning_curve.png     evaluation return and success rate against steps (at the end)
  plots/                 trajectory_<step>_ctx<k>.png: the first evaluation episode of context k at
                         each evaluation, seen from above (`hierarchy.trajectory_plot`; setting
                         `train.trajectory_plots`), also in TensorBoard as images
  finished.json          the final metrics; its presence makes a re-run a no-op (unless the re-run
                         extends it to a larger total_steps: `hierarchy.extension`)
  finished_<step>.json   the final metrics of the run before it was extended from <step> steps
  .train.lock            held (`fcntl.flock`) by the training process while it runs: a second one
                         in the same root_dir stops before writing anything
  evaluation_<step>.json written by `hierarchy.run_evaluation.evaluate_run` (the evaluate binary):
                         the evaluation of the checkpoint of that step, and its pictures
                         plots/evaluation_<step>_ctx<k>.png (unless --notrajectory_plots)
"""

CONFIG_FILE = "config.gin"
OPERATIVE_CONFIG_FILE = "operative_config.gin"
TRAIN_METRICS = "train_metrics.jsonl"
EVAL_METRICS = "eval_metrics.jsonl"
FINISHED = "finished.json"
LEARNING_CURVE = "learning_curve.png"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"
PLOTS = "plots"
LOCK = ".train.lock"


def previous_finished_file(step: int) -> str:
    """Where an extended run keeps the `finished.json` it had at `step` (`finished_<step>.json`)."""
    return f"finished_{int(step)}.json"


def evaluation_file(step: int) -> str:
    """The name of the file that evaluating the checkpoint of `step` writes (`evaluation_<step>.json`)."""
    return f"evaluation_{int(step)}.json"


def trajectory_plot_file(step: int, context_index: int, prefix: str = "trajectory") -> str:
    """The name of the picture of evaluation context `context_index` at `step`
    (`<prefix>_<step>_ctx<k>.png`; the training loop's prefix is "trajectory", the evaluate
    binary's "evaluation"), inside the run's PLOTS folder."""
    return f"{prefix}_{int(step)}_ctx{int(context_index)}.png"

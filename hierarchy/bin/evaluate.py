r"""Evaluates a trained run: its config.gin and newest (or a given) checkpoint.

  python -m hierarchy.bin.evaluate --root_dir=runs/demo [--num_episodes=10] [--video=runs/demo/eval.gif]

Runs N episodes per evaluation context of the task, prints the results and writes them to
root_dir/evaluation_<step>.json, named after the step of the evaluated checkpoint (so evaluating
several checkpoints, e.g. with `--checkpoint=runs/demo/checkpoints/ckpt-5000`, keeps every result),
and draws the first episode of every context from above into
root_dir/plots/evaluation_<step>_ctx<k>.png (walls, path, target, every level's goals; turn off
with `--notrajectory_plots`).
`--gin_file`/`--gin_bindings` are applied on top of the run's config.gin.

Without --checkpoint, a damaged newest checkpoint (or one the training process deleted while it was
read) is skipped with a warning for the newest intact one. Several evaluations of one run may run at
once, and beside its training: every file is written atomically.

Exit status: 0 on success; 2 for a configuration error (no config.gin in root_dir, a gin file or
binding that does not parse or cannot be built, --num_episodes below 1); 1 when there is no complete
and intact checkpoint.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("root_dir", None, "Directory of a run written by hierarchy.bin.train.")
flags.DEFINE_multi_string("gin_file", [], "Extra gin file, applied after the run's config.gin.")
flags.DEFINE_multi_string("gin_bindings", [], "Extra gin binding, applied after the run's config.gin.")
flags.DEFINE_integer("num_episodes", None, "Episodes per evaluation context (default: the run's "
                     "train.eval_episodes_per_context).")
flags.DEFINE_string("video", None, "Render the first episode of every context into this file "
                    "(.gif; .mp4 needs imageio-ffmpeg).")
flags.DEFINE_boolean("trajectory_plots", True, "Draw the first episode of every evaluation context "
                     "from above into root_dir/plots/evaluation_<step>_ctx<k>.png "
                     "(--notrajectory_plots: none).")
flags.DEFINE_string("checkpoint", None, "A checkpoint directory (default: the newest of the run).")
flags.mark_flag_as_required("root_dir")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from hierarchy import run_files
    from hierarchy.bin._config import EXIT_CONFIGURATION, EXIT_FAILED, parse_or_exit
    from hierarchy.config import ConfigurationError

    if FLAGS.num_episodes is not None and FLAGS.num_episodes < 1:
        logging.error("--num_episodes must be >= 1 (episodes per evaluation context), got %d; "
                      "nothing was evaluated.", FLAGS.num_episodes)
        sys.exit(EXIT_CONFIGURATION)
    config = os.path.join(FLAGS.root_dir, run_files.CONFIG_FILE)
    if not os.path.isfile(config):
        logging.error("%s not found: is %s a run directory?", config, FLAGS.root_dir)
        sys.exit(EXIT_CONFIGURATION)
    parse_or_exit([config, *FLAGS.gin_file], FLAGS.gin_bindings)
    from hierarchy.checkpointing import NoIntactCheckpointError
    from hierarchy.run_evaluation import evaluate_run

    try:
        result = evaluate_run(FLAGS.root_dir, episodes_per_context=FLAGS.num_episodes,
                              checkpoint=FLAGS.checkpoint, video_path=FLAGS.video,
                              trajectory_plots=FLAGS.trajectory_plots)
    except ConfigurationError as e:
        logging.error("Invalid configuration, nothing was evaluated: %s", e.message)
        sys.exit(EXIT_CONFIGURATION)
    except (FileNotFoundError, NoIntactCheckpointError) as e:
        logging.error("%s", e)
        sys.exit(EXIT_FAILED)
    except OSError as e:   # a full disk or read-only filesystem while writing the results
        logging.error("The evaluation's results could not be written (%s%s); the run's files are "
                      "untouched.", e.strerror or e, f": {e.filename}" if e.filename else "")
        sys.exit(EXIT_FAILED)
    print(json.dumps(result, indent=1))


def run():
    """Console-script entry point (`hierarchy-evaluate`)."""
    app.run(main)


if __name__ == "__main__":
    run()

r"""Trains a hierarchy. Every hyperparameter comes from gin; see hierarchy/gin/.

  python -m hierarchy.bin.train --root_dir=runs/demo \
      --gin_file=demo/point_reach_hrl_cg.gin [--gin_bindings='train.total_steps = 5000']

Gin files are paths or names under hierarchy/gin/. Re-running with the same root_dir resumes an
interrupted run (or does nothing for a finished one).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("root_dir", None, "Directory of the run: metrics, checkpoints, configs.")
flags.DEFINE_multi_string("gin_file", [], "Gin config file (path or name under hierarchy/gin/).")
flags.DEFINE_multi_string("gin_bindings", [], "Gin binding, e.g. 'train.total_steps = 5000'.")
flags.mark_flag_as_required("root_dir")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from hierarchy import train_loop

    try:
        train_loop.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
    except (ValueError, FileNotFoundError) as e:
        logging.error("Invalid gin configuration, nothing was run:\n%s", e)
        sys.exit(2)
    try:
        train_loop.train(FLAGS.root_dir)
    except (train_loop.ConfigMismatchError, train_loop.TrainingDivergedError) as e:
        logging.error("%s", e)
        sys.exit(1)


def run():
    """Console-script entry point (`hierarchy-train`)."""
    app.run(main)


if __name__ == "__main__":
    run()

r"""Trains a hierarchy. Every hyperparameter comes from gin; see gin/.

  python -m hierarchy.bin.train --root_dir=runs/demo \
      --gin_file=demo/point_reach_hrl_cg.gin [--gin_bindings='train.total_steps = 5000']

Gin files are paths or names under the packaged gin/ folder. Re-running with the same root_dir
resumes an interrupted run (or does nothing for a finished one). To train a run longer, re-run it
with a larger `train.total_steps` and --extend: it continues from its newest checkpoint (exactly as a
run started with the larger total, when the old total ends an episode; `hierarchy.runner`).

Exit status: 0 when the run finished (or had finished before), or when SIGTERM stopped it (it saves a
checkpoint at the next environment step, even mid-episode, and says so; re-running resumes exactly);
2 for a configuration error (a gin file that does not parse, an unknown or misspelled binding, a bad
value such as `ReplayBuffer.batch_size = 0`, an unknown environment id, a scope that names no level)
or a root_dir that cannot be created or written, reported in one paragraph before anything is
written; 1 when root_dir holds a run of another configuration, training diverged (a NaN or inf loss
or weight; the last good checkpoint is intact), a checkpoint could not be written (a full disk; the
previous one is intact), or every checkpoint of the run is damaged (the files are named, nothing is
moved). A damaged newest checkpoint alone is moved aside and the run resumes from the newest intact
one.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("root_dir", None, "Directory of the run: metrics, checkpoints, configs.")
flags.DEFINE_multi_string("gin_file", [], "Gin config file (path, or name under the packaged gin/).")
flags.DEFINE_multi_string("gin_bindings", [], "Gin binding, e.g. 'train.total_steps = 5000'.")
flags.DEFINE_bool("extend", False, "Continue the run in root_dir, finished or not, to a larger "
                  "train.total_steps; every other setting must be the run's.")
flags.mark_flag_as_required("root_dir")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from hierarchy import checkpointing, resilience
    from hierarchy.bin._config import EXIT_CONFIGURATION, EXIT_FAILED, parse_or_exit
    from hierarchy.config import ConfigMismatchError, ConfigurationError

    parse_or_exit(FLAGS.gin_file, FLAGS.gin_bindings)
    from hierarchy.runner import TrainingDivergedError, train

    try:
        train(FLAGS.root_dir, extend=FLAGS.extend)
    except ConfigurationError as e:
        logging.error("Invalid configuration; nothing was run and nothing was written to %s: %s",
                      FLAGS.root_dir, e.message)
        sys.exit(EXIT_CONFIGURATION)
    except resilience.RootDirectoryError as e:
        logging.error("%s", e)
        sys.exit(EXIT_CONFIGURATION)
    except resilience.Interrupted as e:
        logging.info("Stopped by %s at step %d: checkpoint %s written; re-run the same command to "
                     "resume.", e.signal_name, e.step, e.path)
    except (ConfigMismatchError, TrainingDivergedError, checkpointing.CheckpointWriteError,
            checkpointing.NoIntactCheckpointError) as e:
        logging.error("%s", e)
        sys.exit(EXIT_FAILED)


def run():
    """Console-script entry point (`hierarchy-train`)."""
    app.run(main)


if __name__ == "__main__":
    run()

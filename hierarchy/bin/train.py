r"""Trains a hierarchy. Every hyperparameter comes from gin; see gin/.

  python -m hierarchy.bin.train --root_dir=runs/demo \
      --gin_file=demo/point_reach_hrl_cg.gin [--gin_bindings='train.total_steps = 5000']

Gin files are paths or names under the packaged gin/ folder. Re-running with the same root_dir
resumes an interrupted run (or does nothing for a finished one). To train a run longer, re-run it
with a larger `train.total_steps` and --extend: it continues from its newest checkpoint (exactly as a
run started with the larger total, when the old total ends an episode; `hierarchy.run.runner`).

Exit status: 0 when the run finished (or had finished before), or when SIGTERM stopped it (it saves a
checkpoint at the next environment step, even mid-episode, and says so; re-running resumes exactly);
130 when Ctrl-C (SIGINT) stopped it, with the same checkpoint; 2, in one line before anything is
written, for a configuration error (a gin file that does not parse, an unknown or misspelled binding,
a bad value such as `ReplayBuffer.batch_size = 0` or `train.total_steps = 600.5`, an unknown
environment id, a scope that names no level), a root_dir that cannot be created or written, one in
which another training process runs, or one whose metric rows outlive its deleted checkpoints
(--start_over discards them); 1 when root_dir holds a run of another configuration, training
diverged (a NaN or inf loss or weight; the last good checkpoint is intact), a file of the run could
not be written (a full disk, a read-only filesystem; the newest checkpoint is intact), every
checkpoint of the run is damaged (the files are named, nothing is moved), or the open episode of a
mid-episode checkpoint cannot be read (an old open_episode.pkl naming an unknown class; the file is
named). A damaged newest checkpoint
alone is moved aside and the run resumes from the newest intact one.
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
flags.DEFINE_bool("start_over", False, "When root_dir holds metric rows written after a checkpoint "
                  "but no checkpoint is left, discard the rows and start from step 0 (without "
                  "this flag, such a run refuses to start).")
flags.mark_flag_as_required("root_dir")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from hierarchy.bin._config import (
        EXIT_CONFIGURATION,
        EXIT_FAILED,
        EXIT_INTERRUPTED,
        one_line,
        parse_or_exit,
    )
    from hierarchy.run import checkpointing, resilience
    from hierarchy.run.config import ConfigMismatchError, ConfigurationError

    parse_or_exit(FLAGS.gin_file, FLAGS.gin_bindings)
    from hierarchy.run.failures import RowsWithoutCheckpointError, RunWriteError, TrainingDivergedError
    from hierarchy.run.runner import train

    try:
        train(FLAGS.root_dir, extend=FLAGS.extend, start_over=FLAGS.start_over)
    except ConfigurationError as e:
        logging.error("Invalid configuration; nothing was run and nothing was written to %s: %s",
                      FLAGS.root_dir, e.message)
        sys.exit(EXIT_CONFIGURATION)
    except (resilience.RootDirectoryError, RowsWithoutCheckpointError) as e:
        logging.error("%s", one_line(e))
        sys.exit(EXIT_CONFIGURATION)
    except resilience.Interrupted as e:
        logging.info("Stopped by %s at step %d: checkpoint %s written; re-run the same command to "
                     "resume.", e.signal_name, e.step, e.path)
        if e.signal_name == "SIGINT":   # Ctrl-C: a shell script stops too (SIGTERM exits 0)
            sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:   # Ctrl-C before training began (while building): nothing to save
        logging.info("Interrupted before training began; re-run the same command to start again.")
        sys.exit(EXIT_INTERRUPTED)
    except ConfigMismatchError as e:   # its differences follow on the next lines
        logging.error("%s", e)
        sys.exit(EXIT_FAILED)
    except (TrainingDivergedError, RunWriteError, checkpointing.CheckpointWriteError,
            checkpointing.NoIntactCheckpointError, resilience.OpenEpisodeError) as e:
        logging.error("%s", one_line(e))
        sys.exit(EXIT_FAILED)


def run():
    """Console-script entry point (`hierarchy-train`)."""
    app.run(main)


if __name__ == "__main__":
    run()

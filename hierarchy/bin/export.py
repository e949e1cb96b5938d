r"""Exports a trained run as a TensorFlow SavedModel policy that runs without this library.

  python -m hierarchy.bin.export --root_dir=runs/demo --out=runs/demo/policy [--checkpoint=...]

The run's config.gin builds the hierarchy; its newest intact checkpoint (or --checkpoint) gives the
weights. The SavedModel has the signatures `initial_state(batch_size)` and
`action(observation, context, step, origin_states, origin_goals)`; see `hierarchy.agent.export` and
docs/export.md. Deterministic unless --exploration (the training's Gaussian exploration noise).

Exit status: 0 on success (the provenance record is printed); 2 for a configuration error (no
config.gin in root_dir, a gin binding that does not parse or cannot be built); 1 when there is no
complete and intact checkpoint or --out cannot be written.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("root_dir", None, "Directory of a run written by hierarchy.bin.train.")
flags.DEFINE_string("out", None, "Directory to write the SavedModel to (replaced if it exists).")
flags.DEFINE_string("checkpoint", None, "A checkpoint directory (default: the newest of the run).")
flags.DEFINE_bool("exploration", False, "Add the training's Gaussian exploration noise to every "
                  "level's action (default: deterministic, as in evaluation).")
flags.DEFINE_multi_string("gin_bindings", [], "Extra gin binding, applied after the run's config.gin.")
flags.mark_flags_as_required(["root_dir", "out"])
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from hierarchy.bin._config import EXIT_CONFIGURATION, EXIT_FAILED, one_line, parse_or_exit
    from hierarchy.run import files
    from hierarchy.run.config import ConfigurationError

    config = os.path.join(FLAGS.root_dir, files.CONFIG_FILE)
    if not os.path.isfile(config):
        logging.error("%s not found: is %s a run directory?", config, FLAGS.root_dir)
        sys.exit(EXIT_CONFIGURATION)
    parse_or_exit([config], FLAGS.gin_bindings)
    from hierarchy.agent.export import ExportError, export_policy
    from hierarchy.run.checkpointing import NoIntactCheckpointError

    try:
        record = export_policy(FLAGS.root_dir, FLAGS.out, checkpoint=FLAGS.checkpoint,
                               exploration=FLAGS.exploration)
    except ConfigurationError as e:
        logging.error("Invalid configuration, nothing was exported: %s", e.message)
        sys.exit(EXIT_CONFIGURATION)
    except (FileNotFoundError, NoIntactCheckpointError, ExportError) as e:
        logging.error("Nothing was exported: %s", one_line(e))
        sys.exit(EXIT_FAILED)
    logging.info("Exported %s (step %d, %d level(s)) to %s.", record["checkpoint"], record["step"],
                 record["num_levels"], FLAGS.out)
    print(json.dumps(record, indent=1))


def run():
    """Console-script entry point (`hierarchy-export`)."""
    app.run(main)


if __name__ == "__main__":
    run()

r"""Evaluates a trained run: its config.gin and newest (or a given) checkpoint.

  python -m hierarchy.bin.evaluate --root_dir=runs/demo [--num_episodes=10] [--video=runs/demo/eval.mp4]

Runs N episodes per evaluation context of the task, prints the results and writes them to
root_dir/evaluation_<step>.json, named after the step of the evaluated checkpoint (so evaluating
several checkpoints, e.g. with `--checkpoint=runs/demo/checkpoints/ckpt-5000`, keeps every result),
and draws the first episode of every context from above into
root_dir/plots/evaluation_<step>_ctx<k>.png (walls, path, target, every level's goals; turn off
with `--notrajectory_plots`).
`--gin_file`/`--gin_bindings` are applied on top of the run's config.gin.

`--video=FILE.mp4` (or `.gif`) films evaluation episodes (`hierarchy.plots.video`): by default the first
episode of every context, a frame every 2 steps, 720x720 pixels, the overview camera (the task's
area from above), 30 frames per second, with a caption naming the task, context and episode and a
legend of the colours below the picture. `--video_contexts=0,2` films only those contexts (indices
into the task's evaluation contexts), `--video_episodes=N` the first N episodes of each (at most
--num_episodes), `--video_stride=K` a frame every K steps (1: every step), `--video_size=WxH` the
frame size, `--video_camera=follow` a camera following the robot, `--video_fps`, and
`--novideo_caption` drops the caption. Frames are written as they are rendered; MP4 needs the
imageio-ffmpeg package of requirements.txt.

Without --checkpoint, a damaged newest checkpoint (or one the training process deleted while it was
read) is skipped with a warning for the newest intact one. Several evaluations of one run may run at
once, and beside its training: every file is written atomically.

Exit status: 0 on success; 2 for a configuration error (no config.gin in root_dir, a gin file or
binding that does not parse or cannot be built, --num_episodes below 1, a video flag that cannot be
honoured: an unknown extension or camera, a stride, size or episode count out of range, a context the
task does not have); 1 when there is no complete and intact checkpoint.
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
flags.DEFINE_string("video", None, "Film evaluation episodes into this file (.mp4 or .gif; see "
                    "the --video_* flags).")
flags.DEFINE_list("video_contexts", None, "Indices of the evaluation contexts to film, e.g. 0,2 "
                  "(default: all).")
flags.DEFINE_integer("video_episodes", 1, "Episodes filmed per context (the first ones).")
flags.DEFINE_integer("video_stride", 2, "Render a frame every this many environment steps (and "
                     "the final step's).")
flags.DEFINE_string("video_size", "720x720", "Frame size WIDTHxHEIGHT in pixels (even for .mp4), "
                    "caption included.")
flags.DEFINE_enum("video_camera", "overview", ["overview", "follow"], "overview: the task's area "
                  "from above; follow: a camera following the robot.")
flags.DEFINE_integer("video_fps", 30, "Frames per second of the video.")
flags.DEFINE_boolean("video_caption", True, "A caption below the picture: task, context, episode "
                     "and a legend of the colours.")
flags.DEFINE_boolean("trajectory_plots", True, "Draw the first episode of every evaluation context "
                     "from above into root_dir/plots/evaluation_<step>_ctx<k>.png "
                     "(--notrajectory_plots: none).")
flags.DEFINE_string("checkpoint", None, "A checkpoint directory (default: the newest of the run).")
flags.mark_flag_as_required("root_dir")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from hierarchy.bin._config import EXIT_CONFIGURATION, EXIT_FAILED, parse_or_exit
    from hierarchy.run import files
    from hierarchy.run.config import ConfigurationError

    if FLAGS.num_episodes is not None and FLAGS.num_episodes < 1:
        logging.error("--num_episodes must be >= 1 (episodes per evaluation context), got %d; "
                      "nothing was evaluated.", FLAGS.num_episodes)
        sys.exit(EXIT_CONFIGURATION)
    video = _video_settings_or_exit()
    config = os.path.join(FLAGS.root_dir, files.CONFIG_FILE)
    if not os.path.isfile(config):
        logging.error("%s not found: is %s a run directory?", config, FLAGS.root_dir)
        sys.exit(EXIT_CONFIGURATION)
    parse_or_exit([config, *FLAGS.gin_file], FLAGS.gin_bindings)
    from hierarchy.plots.video import VideoSettingsError
    from hierarchy.run.checkpointing import NoIntactCheckpointError
    from hierarchy.run.saved_run import evaluate_run

    try:
        result = evaluate_run(FLAGS.root_dir, episodes_per_context=FLAGS.num_episodes,
                              checkpoint=FLAGS.checkpoint, video=video,
                              trajectory_plots=FLAGS.trajectory_plots)
    except VideoSettingsError as e:
        logging.error("Bad video flag, nothing was evaluated: %s", e)
        sys.exit(EXIT_CONFIGURATION)
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


def _video_settings_or_exit():
    """The video settings of the --video* flags (None without --video); exit status 2 for a bad
    one."""
    from hierarchy.bin._config import EXIT_CONFIGURATION
    from hierarchy.plots.video import VideoSettings, VideoSettingsError, parse_size

    if FLAGS.video is None:
        return None
    try:
        contexts = FLAGS.video_contexts
        if contexts is not None and not all(c.strip().isdigit() for c in contexts):
            raise VideoSettingsError(f"--video_contexts must be indices >= 0, e.g. 0,2; got "
                                     f"{','.join(contexts)!r}")
        return VideoSettings(
            path=FLAGS.video, contexts=None if contexts is None else tuple(int(c) for c in contexts),
            episodes=FLAGS.video_episodes, stride=FLAGS.video_stride,
            size=parse_size(FLAGS.video_size), camera=FLAGS.video_camera, fps=FLAGS.video_fps,
            caption=FLAGS.video_caption)
    except VideoSettingsError as e:
        logging.error("Bad video flag, nothing was evaluated: %s", e)
        sys.exit(EXIT_CONFIGURATION)


def run():
    """Console-script entry point (`hierarchy-evaluate`)."""
    app.run(main)


if __name__ == "__main__":
    run()

"""Training a run longer than first planned: what changes in its directory before it resumes.

`hierarchy.runner.train(root_dir, extend=True)` calls `prepare_extension` once the configuration check
(`config.check_config_unchanged`) has accepted a larger `train.total_steps`; the run then resumes from
its newest checkpoint as any interrupted run does.
"""

import os

from absl import logging

from hierarchy import metrics, run_files


def prepare_extension(root_dir: str, previous_total: int, total_steps: int) -> None:
    """Readies the run in `root_dir`, started for `previous_total` steps, to train to `total_steps`.

    A finished run's `finished.json` is kept as `finished_<previous_total>.json`. If that run was cut
    off mid-episode (its last training episode ended before `previous_total`), the extension starts
    a new episode there, which a warning says: the run stays valid, but it is not step for step the
    run a larger total from the start would have given. An unfinished run needs nothing.
    """
    logging.info("Extending the run in %s from %d to %d steps.", root_dir, previous_total,
                 total_steps)
    finished = os.path.join(root_dir, run_files.FINISHED)
    if not os.path.exists(finished):
        return
    rows = metrics.read_jsonl(os.path.join(root_dir, run_files.TRAIN_METRICS))
    last_episode_end = rows[-1]["step"] if rows else 0
    os.replace(finished, os.path.join(root_dir, run_files.previous_finished_file(previous_total)))
    if last_episode_end != previous_total:
        logging.warning(
            "The run was cut off mid-episode at step %d (its last episode ended at step %d): the "
            "extension starts a new episode there, so it is a valid run but not step for step the "
            "one a total of %d from the start would have given.", previous_total, last_episode_end,
            total_steps)

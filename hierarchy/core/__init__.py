"""The math of a hierarchy, with no replay, schedule or files: pure functions and `tf.Module`s.

  level.py                one goal-conditioned TD3 learner (`Level`)
  stack.py                N levels and their losses (`Hierarchy`): TD3 per level, connected
                          gradients between every parent and child, relabelled batches
  connected_gradients.py  the estimators of a child's loss in its parent's actor update (Eq. 14)
  goals.py                goal spaces, the goal transition h and the intrinsic reward
  relabelling.py          rewriting sampled rows: HIRO's correction, hindsight actions and goals
  diagnostics.py          a parent's actor gradient split into its TD3 and connected parts
  networks.py, optimizers.py, specs.py   MLPs, the fused Adam, TensorFlow specs
"""

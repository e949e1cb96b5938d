"""A minimal training/evaluation loop over `Agent`, for the learning tests."""

from hierarchy.run import evaluation


def train(agent, env, steps, seed=0):
    obs, _ = env.reset(seed=seed)
    ep = agent.begin_episode(obs["observation"], obs["context"])
    returns = []
    for _ in range(steps):
        action = agent.act(ep)
        obs, reward, term, trunc, _ = env.step(action)
        agent.observe(ep, reward, obs["observation"], term, trunc)
        if term or trunc:
            returns.append(ep.env_return)
            obs, _ = env.reset()
            ep = agent.begin_episode(obs["observation"], obs["context"])
    return returns


def evaluate(agent, env, contexts=None, episodes=1, seed=1000):
    """Mean return and success rate (NaN without success info; by the task's success rule, the final
    step for this package's tasks), by the library's own evaluation (`hierarchy.run.evaluation.evaluate`)."""
    result = evaluation.evaluate(agent, env, episodes_per_context=episodes, contexts=contexts,
                                 seed=seed)
    success = result["success_rate"]
    return result["mean_return"], float("nan") if success is None else success

"""A minimal training/evaluation loop over `Agent`, for the learning tests."""

import time

import numpy as np


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


def evaluate(agent, env, contexts=(None,), episodes=1, seed=1000):
    """Mean return and final-step success rate over `episodes` per context."""
    returns, successes = [], []
    for c, context in enumerate(contexts):
        for e in range(episodes):
            options = None if context is None else {"context": context}
            obs, _ = env.reset(seed=seed + 100 * c + e, options=options)
            ep = agent.begin_episode(obs["observation"], obs["context"], training=False)
            info = {}
            while True:
                obs, reward, term, trunc, info = env.step(agent.act(ep))
                agent.observe(ep, reward, obs["observation"], term, trunc)
                if term or trunc:
                    break
            returns.append(ep.env_return)
            successes.append(float(info.get("is_success", np.nan)))
    return float(np.mean(returns)), float(np.mean(successes))


class Timer:
    def __enter__(self):
        self.start = time.time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.time() - self.start

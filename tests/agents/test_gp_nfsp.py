"""GP-NFSP at tiny budgets: trains through the runner, local information only, seeded, learns."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from aif_offload.agents import AGENTS, Agent, EnvContext, Transition, agent_class
from aif_offload.agents.gp_nfsp import (
    GpNfspAgent,
    GpNfspConfig,
    StackedAdam,
    average_logits,
    best_response_step,
    head_log_probs,
)
from aif_offload.envs.observation import SERVER_BLOCKS
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario, validate


def _small(tasks: int = 40):
    table = load_scenario("paper").model_dump()
    table["episode"] |= {"tasks_per_episode": tasks}
    return validate(table)


def _setup(batch: int, seeds: list[int], config: GpNfspConfig | None = None, tasks: int = 40):
    env = CloudEdgeLLMVectorEnv(batch, _small(tasks))
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, batch)
    obs, _ = env.reset(seed=seeds)
    return env, GpNfspAgent(context, seeds=seeds, config=config), obs


def test_registered_with_its_summary():
    assert agent_class("gp-nfsp") is GpNfspAgent
    assert GpNfspAgent.needs_terminal and GpNfspAgent.learns
    assert not Agent.needs_terminal and not AGENTS["greedy"].needs_terminal


def test_trains_through_the_runner_and_evaluates_greedily():
    (run,) = run_agent("gp-nfsp", load_scenario("paper"), [0], episodes=3, eval_episodes=1)
    assert run.env_steps.tolist() == [100, 200, 300]
    assert np.all((run.metrics["completion_rate"] >= 0) & (run.metrics["completion_rate"] <= 1))
    assert np.isfinite(run.metrics["ppo_loss"]).all()
    fraction = run.metrics["best_response_fraction"]
    assert np.all((fraction >= 0) & (fraction <= 1)) and fraction.sum() > 0
    assert np.isfinite(run.metrics["sl_loss"][-1])  # a reservoir holds best responses by then
    assert run.eval_metrics["tasks"].tolist() == [100]
    assert run.eval_metrics["best_response_fraction"].tolist() == [0.0]  # average policy only
    assert np.isnan(run.eval_metrics["ppo_loss"]).all()  # frozen: no learning


def test_same_seed_same_results_whatever_shares_the_batch():
    scenario = _small()
    first = run_agent("gp-nfsp", scenario, [5], 2, eval_episodes=1)[0]
    again = run_agent("gp-nfsp", scenario, [5], 2, eval_episodes=1)[0]
    batched = run_agent("gp-nfsp", scenario, [7, 5], 2, eval_episodes=1)[1]
    for other in (again, batched):
        for key in ("sum_reward", "completion_rate", "ppo_loss", "best_response_fraction"):
            np.testing.assert_array_equal(first.metrics[key], other.metrics[key])
        np.testing.assert_array_equal(
            first.eval_metrics["sum_reward"], other.eval_metrics["sum_reward"]
        )


def test_acts_inside_the_action_space_and_needs_the_terminal():
    env, agent, obs = _setup(3, [0, 1, 2])
    with pytest.raises(RuntimeError, match="set_terminals"):
        agent.act(obs)
    for _ in range(40):
        agent.set_terminals(env.current_terminals())
        action = agent.act(obs)
        assert action.shape == (3, 4) and np.issubdtype(action.dtype, np.integer)
        assert np.all((action >= 0) & (action < env.core.sim.action_nvec))
        nxt, reward, term, trunc, info = env.step(action)
        agent.observe(Transition(obs, action, reward, nxt, term, trunc, info))
        obs = nxt


def test_never_reads_the_servers_load_reports():
    """Two agents of one seed, one fed load reports scrambled: same actions, same learning."""
    # Many best-response episodes, so both policies are exercised; few epochs, for speed.
    config = GpNfspConfig(eta=0.5, ppo_epochs=2)
    env, agent, obs = _setup(2, [3, 4], config, tasks=30)
    _, twin, _ = _setup(2, [3, 4], config, tasks=30)
    layout, rng = env.core.layout, np.random.default_rng(0)

    def scramble(o):
        o = o.copy()
        for block in SERVER_BLOCKS[1:]:  # remaining compute, bandwidth, memory
            o[:, layout.slice(block)] = rng.random(o[:, layout.slice(block)].shape)
        return o

    assert SERVER_BLOCKS[0] == "distance_km"
    for phase in ("train", "train", "frozen"):  # 30 tasks each
        for a in (agent, twin):
            if phase == "frozen":
                a.freeze()
            a.begin_episode()
        for _ in range(30):
            terminals = env.current_terminals()
            agent.set_terminals(terminals)
            twin.set_terminals(terminals)
            seen = scramble(obs)
            action = agent.act(obs)
            np.testing.assert_array_equal(twin.act(seen), action)
            nxt, reward, term, trunc, info = env.step(action)
            agent.observe(Transition(obs, action, reward, nxt, term, trunc, info))
            twin.observe(Transition(seen, action, reward, scramble(nxt), term, trunc, info))
            obs = nxt
        stats, twin_stats = agent.end_episode(), twin.end_episode()
        np.testing.assert_array_equal(stats["ppo_loss"], twin_stats["ppo_loss"])
    for key, value in agent.br.items():
        torch.testing.assert_close(twin.br[key], value, rtol=0, atol=0)


def test_the_runner_tells_the_agent_which_terminal_issues_the_task(monkeypatch):
    """Terminals handed to the agent match the simulator's requester of every task."""
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    class Recorder(AGENTS["random"]):
        name = "recorder"
        summary = "test double"
        needs_terminal = True

        def act(self, observation, truth=None):
            action = super().act(observation, truth)
            seen.append((self.terminals.copy(), action))
            return action

    monkeypatch.setitem(AGENTS, "recorder", Recorder)
    scenario, seeds = _small(30), [11, 12]
    run_agent("recorder", scenario, seeds, 2)
    assert len(seen) == 60
    # Replay the same workloads (the runner's training rows are seeded with the seeds).
    env = CloudEdgeLLMVectorEnv(2, scenario)
    env.reset(seed=seeds)
    sim = env.core.sim
    for terminals, action in seen:
        np.testing.assert_array_equal(terminals, sim.terminal[np.arange(2), sim.task_index])
        env.step(action)
    assert len({t for terminals, _ in seen for t in terminals}) > 10


def test_average_policy_loss_falls_on_a_fixed_buffer():
    env, agent, _ = _setup(1, [0], GpNfspConfig(sl_updates=10, sl_lr=3e-3))
    rng = np.random.default_rng(1)
    nvec = env.core.sim.action_nvec
    # Ten terminals, each with 20 samples whose action is a fixed function of the features.
    for terminal in range(10):
        for _ in range(20):
            x = rng.random(agent.feature_dim).astype(np.float32)
            action = (np.floor(x[:4] * nvec)).astype(np.int64)
            agent._reservoir_add(0, terminal, x, action)
    x, target = agent.res_x[:, :20], agent.res_a[:, :20].long()  # every terminal's first 20
    with torch.no_grad():
        before = agent.average_loss(x, target)[:10].mean().item()
    for _ in range(4):
        agent._update_average()
    with torch.no_grad():
        after = agent.average_loss(x, target)[:10].mean().item()
    assert abs(before - np.log(np.prod(nvec))) < 0.1  # starts near uniform
    assert after < 0.6 * before, (before, after)


def test_numpy_acting_forward_equals_the_torch_training_forward():
    _, agent, _ = _setup(1, [0])
    agents = np.arange(5)
    x = np.random.default_rng(2).random((5, agent.feature_dim)).astype(np.float32)
    h = np.random.default_rng(3).random((5, agent.config.hidden)).astype(np.float32)
    gathered = {k: v[agents] for k, v in agent.br_np.items()}
    logits, value, h_next = best_response_step(gathered, x, h)
    with torch.no_grad():
        params = {k: v[torch.from_numpy(agents)] for k, v in agent.br.items()}
        t_logits, t_value, t_h = best_response_step(
            params, torch.from_numpy(x), torch.from_numpy(h)
        )
        t_avg = average_logits({k: v[:5] for k, v in agent.avg.items()}, torch.from_numpy(x))
    np.testing.assert_allclose(logits, t_logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(value, t_value.numpy(), atol=1e-5)
    np.testing.assert_allclose(h_next, t_h.numpy(), atol=1e-5)
    avg = average_logits({k: v[:5] for k, v in agent.avg_np.items()}, x)
    np.testing.assert_allclose(avg, t_avg.numpy(), atol=1e-5)
    for a, b in zip(
        head_log_probs(avg, agent.nvec), head_log_probs(t_avg, agent.nvec), strict=True
    ):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-5)


def test_stacked_adam_updates_each_learner_like_its_own_adam():
    """Each learner follows Kingma and Ba's Adam (torch.optim.Adam's defaults) on its own steps
    only. (Checked against torch.optim.Adam itself by hand; its constructor imports
    torch._dynamo, ~4 s, too slow for this file.)"""
    torch.manual_seed(0)
    w = torch.randn(3, 4, 5, requires_grad=True)
    ref = [w[i].detach().clone().double() for i in range(3)]
    m, v, t = [torch.zeros_like(r) for r in ref], [torch.zeros_like(r) for r in ref], [0, 0, 0]
    stacked, lr, b1, b2, eps = StackedAdam({"w": w}, 1e-2), 1e-2, 0.9, 0.999, 1e-8
    for it in range(6):
        active = torch.tensor([True, it % 2 == 0, False])
        x = torch.randn(3, 5)
        stacked.zero_grad()
        (w @ x[..., None]).pow(2).sum().backward()
        stacked.step(active)
        for i in np.flatnonzero(active.numpy()):
            g = 2 * (ref[i] @ x[i].double())[:, None] * x[i].double()[None, :]
            t[i] += 1
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1 ** t[i]), v[i] / (1 - b2 ** t[i])
            ref[i] = ref[i] - lr * m_hat / (v_hat.sqrt() + eps)
    for i in range(3):
        torch.testing.assert_close(w[i].detach().double(), ref[i], rtol=0, atol=1e-5)
    assert not torch.equal(w[0], w[1]) and torch.equal(w[2].detach(), ref[2].float())


def test_variants_by_name_change_the_learning_rate_and_eta():
    env = CloudEdgeLLMVectorEnv(1, _small())
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, 1)
    agent = agent_class("gp-nfsp@lr=1e-3+eta=0.25")(context, seeds=[0])
    assert agent.config.ppo_lr == 1e-3 and agent.config.eta == 0.25
    assert GpNfspAgent(context, seeds=[0]).config == GpNfspConfig()


def test_config_is_validated():
    with pytest.raises(ValueError, match="eta"):
        GpNfspConfig(eta=1.5)
    with pytest.raises(ValueError, match="hidden"):
        GpNfspConfig(hidden=0)

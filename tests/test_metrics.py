"""GET /metrics over real HTTP: the Prometheus text format, summed across gunicorn workers."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.client import read_stream
from tests.support.metrics import scrape, value
from tests.support.server import REPO, run_server


def stream_one(url: str, question: str) -> list[str]:
    with httpx.Client(timeout=30) as http:
        return read_stream(
            http, "POST", url + "/api/chat/stream", json={"message": question, "agent": "slow"}
        ).types


def pids_with_counters(directory: Path) -> set[str]:
    return {path.stem.rpartition("_")[2] for path in directory.glob("counter_*.db")}


def test_metrics_are_summed_across_two_workers(
    tmp_path: Path, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    with run_server(tmp_path / "data", workers=2) as server:
        runs = 0
        # Concurrent streams land on both workers; go on until both have counted some.
        while len(pids_with_counters(metrics_dir)) < 2 and runs < 80:
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda _: stream_one(server.url, "0.2"), range(8)))
            assert all(types[-1] == "done" for types in results)
            runs += 8
        assert len(pids_with_counters(metrics_dir)) == 2
        for _ in range(6):  # whichever worker answers, it answers the sum
            samples = scrape(client, server)
            assert value(samples, "stagecast_runs_started_total", agent="slow") == runs
            assert value(samples, "stagecast_runs_finished_total", agent="slow", status="success") == runs
            assert value(samples, "stagecast_run_duration_seconds_count", agent="slow") == runs
            assert value(samples, "stagecast_events_sent_total", type="start") == runs
            assert value(samples, "stagecast_events_sent_total", type="done") == runs
            assert value(samples, "stagecast_time_to_first_event_seconds_count") == runs
            assert value(samples, "stagecast_open_streams") == 0
            assert ("stagecast_hub_lag_seconds", ()) in samples
            assert ("stagecast_waiting_runs", ()) in samples
            assert ("stagecast_upstream_retries_total", ()) in samples


def test_open_streams_and_the_metrics_token(data_dir: Path, client: httpx.Client) -> None:
    with run_server(data_dir, metrics_token="m" * 20) as server:
        refused = client.get(server.url + "/metrics")
        assert refused.status_code == 401 and refused.json()["error"] == "Unauthorized"
        assert (
            client.get(server.url + "/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        )
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(stream_one, server.url, "1.5")
            headers = {"Authorization": "Bearer " + "m" * 20}
            for _ in range(50):
                if value(scrape(client, server, headers=headers), "stagecast_open_streams") == 1:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the open stream was never counted")
            assert running.result()[-1] == "done"
        assert value(scrape(client, server, headers=headers), "stagecast_open_streams") == 0


def test_grafana_dashboard_and_scrape_example_name_real_metrics() -> None:
    from prometheus_client.metrics import MetricWrapperBase

    from app import metrics

    defined = {m._name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)}
    dashboard = json.loads((REPO / "deploy" / "grafana-dashboard.json").read_text())
    used = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"stagecast_\w+", target["expr"])
    }
    assert used and used <= defined
    scrape_config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    assert scrape_config["scrape_configs"][0]["metrics_path"] == "/metrics"

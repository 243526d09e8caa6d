"""Run a small 1D study on a real three-node Ray cluster and kill a worker node mid-study.

Run by `test_cluster.py` in its own process (a multi-node cluster cannot share the test
session's Ray). Prints one JSON line: declared and written row counts, statuses, kill time.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from results import ROW_SCHEMA, read_rows
from search_spaces.synthetic_1d import PRESETS
from study.options import StudyOptions
from study.synthetic_1d.plan import declared_models
from study.synthetic_1d.run import run_synthetic_1d

SPACE = {
    "functions": [0],
    "validation_seeds": [0],
    "test_seeds": [0],
    "class_counts": [4],
    "lambdas": [1.0, 10.0, 100.0, 1000.0],
    "samplings": ["uniform", "severe"],
    "scenarios": ["clean"],
    "total_samples": 1_500,
    "epochs": 4,
    "batch_size": 32,
}


def main(out: Path) -> None:
    # Detect the killed node within ~1.5 s, so Tune's retries are not placed on it (Ray's default
    # takes ~30 s; a retry placed on a dead node fails again and uses up max_failures).
    fast_health_checks = {
        "health_check_initial_delay_ms": 0,
        "health_check_period_ms": 500,
        "health_check_failure_threshold": 3,
    }
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "_system_config": fast_health_checks},
    )
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
    options = StudyOptions(
        study="synthetic_1d",
        preset="quick",
        out=out,
        space_overrides=SPACE,
        max_failures=6,
        address=cluster.address,
    )
    errors: list[BaseException] = []
    summaries: dict = {}

    def run() -> None:
        try:
            summaries.update(run_synthetic_1d(options, ROW_SCHEMA))
        except BaseException as error:  # reported in the JSON line below
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    killed_after = None
    deadline = time.monotonic() + 300
    while thread.is_alive() and time.monotonic() < deadline:
        written = len(list((out / "rows").glob("*.parquet")))
        if written >= 3:
            cluster.remove_node(workers[0], allow_graceful=False)
            killed_after = written
            break
        time.sleep(0.1)
    thread.join(timeout=600)
    rows = read_rows(out)
    declared = sum(declared_models(PRESETS["quick"].with_overrides(SPACE)).values())
    nodes = sorted(set(rows["hostname"].drop_nulls())) if len(rows) else []
    print(
        json.dumps(
            {
                "declared": declared,
                "rows": len(rows),
                "unique_keys": rows["row_key"].n_unique() if len(rows) else 0,
                "statuses": sorted(set(rows["status"])) if len(rows) else [],
                "killed_after_files": killed_after,
                "errors": [repr(e) for e in errors],
                "hosts": nodes,
                "retried_trials": sum(s.retried_trials for s in summaries.values()),
                "failed_errors": sorted(
                    set(rows.filter(rows["status"] == "failed")["error"].to_list())
                )
                if len(rows)
                else [],
            }
        )
    )
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))

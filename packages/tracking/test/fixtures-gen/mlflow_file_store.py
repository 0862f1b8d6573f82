"""MLflow's file-store layout, written and read with PyYAML exactly as mlflow/store/tracking/file_store.py
and mlflow/utils/yaml_utils.py do (yaml.safe_dump(default_flow_style=False, allow_unicode=True,
sort_keys=True); metric lines f"{timestamp} {value} {step}\\n" with Python's float formatting).

  python3 mlflow_file_store.py write <dir>   writes the fixture mlruns folder "written by MLflow"
  python3 mlflow_file_store.py check <dir>   reads an mlruns folder with MLflow's reading rules and
                                             prints a JSON summary (exit 1 with the reason on a violation)
Needs only PyYAML (which MLflow itself uses)."""
import json
import os
import posixpath
import re
import sys

import yaml

RUN_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
EXPERIMENT_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")
KEY = re.compile(r"^[/\w.\- :]*$")
RESERVED_EXPERIMENT_FOLDERS = {"tags", "datasets", "traces", "models"}


def write_yaml(path, data):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, default_flow_style=False, allow_unicode=True, sort_keys=True)


def write(root):
    os.makedirs(os.path.join(root, ".trash"), exist_ok=True)
    exp0 = os.path.join(root, "0")
    os.makedirs(exp0, exist_ok=True)
    write_yaml(os.path.join(exp0, "meta.yaml"), {
        "artifact_location": "file:///home/someone/project/mlruns/0", "creation_time": 1717000000000,
        "experiment_id": "0", "last_update_time": 1717000000000, "lifecycle_stage": "active", "name": "Default"})
    exp_id = "283746512398471234"
    exp = os.path.join(root, exp_id)
    os.makedirs(os.path.join(exp, "tags"), exist_ok=True)
    write_yaml(os.path.join(exp, "meta.yaml"), {
        "artifact_location": "file:///home/someone/project/mlruns/" + exp_id, "creation_time": 1717000001000,
        "experiment_id": exp_id, "last_update_time": 1717000001000, "lifecycle_stage": "active",
        "name": "paper: IJB-B 'set' protocol"})
    with open(os.path.join(exp, "tags", "mlflow.note.content"), "w") as f:
        f.write("experiment note")
    run_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    run = os.path.join(exp, run_id)
    for sub in ("metrics", "params", "artifacts", "tags", "metrics/ijbb"):
        os.makedirs(os.path.join(run, sub), exist_ok=True)
    long_name = "a run name long enough that PyYAML folds it over more than one line of the meta file ok"
    write_yaml(os.path.join(run, "meta.yaml"), {
        "artifact_uri": "file:///home/someone/project/mlruns/%s/%s/artifacts" % (exp_id, run_id),
        "end_time": 1717000100000, "entry_point_name": "", "experiment_id": exp_id, "lifecycle_stage": "active",
        "run_id": run_id, "run_name": long_name, "run_uuid": run_id, "source_name": "", "source_type": 4,
        "source_version": "", "start_time": 1717000002000, "status": 3, "tags": [], "user_id": "someone",
        "deleted_time": None})
    with open(os.path.join(run, "metrics", "loss"), "w") as f:
        for ts, value, step in [(1717000003000, 0.5, 0), (1717000004000, 1e-05, 1), (1717000005000, float("nan"), 2)]:
            f.write(f"{ts} {value} {step}\n")
    with open(os.path.join(run, "metrics", "ijbb", "tar_at_far_1e-4"), "w") as f:
        f.write(f"{1717000006000} {93.25} {0}\n")
    with open(os.path.join(run, "metrics", "legacy_two_fields"), "w") as f:
        f.write(f"{1717000007000} {float('inf')}\n")
    with open(os.path.join(run, "params", "train.lr"), "w") as f:
        f.write("0.001")
    with open(os.path.join(run, "tags", "mlflow.runName"), "w") as f:
        f.write(long_name)
    with open(os.path.join(run, "artifacts", "roc.json"), "w") as f:
        json.dump({"fpr": [0.0, 1e-4, 1.0], "tpr": [0.0, 0.9, 1.0]}, f)


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def read_files(folder):
    out = {}
    for base, _, files in os.walk(folder):
        for name in files:
            rel = os.path.relpath(os.path.join(base, name), folder).replace(os.sep, "/")
            if not KEY.match(rel) or posixpath.normpath(rel) != rel:
                fail(f"{folder}: key {rel!r} breaks MLflow's key rules")
            with open(os.path.join(base, name), encoding="utf-8") as f:
                out[rel] = f.read()
    return out


def check(root):
    if not os.path.isdir(os.path.join(root, ".trash")):
        fail(f"{root}: no .trash folder")
    summary = {"experiments": {}}
    for exp_id in sorted(os.listdir(root)):
        exp = os.path.join(root, exp_id)
        if exp_id in (".trash", "models") or not os.path.isdir(exp):
            continue
        with open(os.path.join(exp, "meta.yaml"), encoding="utf-8") as f:
            meta = yaml.safe_load(f)
        for k in ("experiment_id", "name", "artifact_location", "lifecycle_stage"):
            if k not in meta:
                fail(f"{exp}/meta.yaml: no {k}")
        if str(meta["experiment_id"]) != exp_id or not EXPERIMENT_ID.match(exp_id):
            fail(f"{exp}/meta.yaml: experiment_id {meta['experiment_id']!r} does not match folder {exp_id}")
        runs = {}
        for run_id in sorted(os.listdir(exp)):
            run = os.path.join(exp, run_id)
            if run_id in RESERVED_EXPERIMENT_FOLDERS or not os.path.isdir(run):
                continue
            if run_id.startswith(".fcn-tmp-"):
                fail(f"{run}: temporary folder left behind")
            with open(os.path.join(run, "meta.yaml"), encoding="utf-8") as f:
                info = yaml.safe_load(f)
            for k in ("experiment_id", "user_id", "status", "start_time"):
                if info.get(k) is None:
                    fail(f"{run}/meta.yaml: {k} is missing (RunInfo requires it)")
            if (info.get("run_id") or info.get("run_uuid")) != run_id or not RUN_ID.match(run_id):
                fail(f"{run}/meta.yaml: run_id does not match folder {run_id}")
            if str(info["experiment_id"]) != exp_id:
                fail(f"{run}/meta.yaml: experiment_id {info['experiment_id']!r} is not {exp_id}")
            if info["status"] not in (1, 2, 3, 4, 5) or not isinstance(info["start_time"], int):
                fail(f"{run}/meta.yaml: status must be 1..5 and start_time an int")
            metrics = {}
            for key, text in read_files(os.path.join(run, "metrics")).items():
                points = []
                for line in text.splitlines():
                    parts = line.strip().split(" ")
                    if len(parts) not in (2, 3):
                        fail(f"{run}/metrics/{key}: malformed line {line!r}")
                    points.append([int(parts[0]), repr(float(parts[1])), int(parts[2]) if len(parts) == 3 else 0])
                metrics[key] = points
            runs[run_id] = {
                "run_name": info.get("run_name"), "status": info["status"], "start_time": info["start_time"],
                "end_time": info.get("end_time"), "artifact_uri": info.get("artifact_uri"),
                "params": read_files(os.path.join(run, "params")), "tags": read_files(os.path.join(run, "tags")),
                "metrics": metrics,
            }
        summary["experiments"][exp_id] = {"name": meta["name"], "runs": runs}
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])

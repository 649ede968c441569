"""deploy/: the worker image's Dockerfile, the Dataflow Flex Template, the scheduled jobs.
No cloud here, and Docker only when asked (NEWSBEAM_TEST_DOCKER=1: the build pulls the base
images, the one test that leaves 127.0.0.1). The files are checked for what a build or a
launch relies on (the base image matches the pinned Beam and Python, what the image copies
exists, the template's parameters are NewsBeam's flags, the schedules write one dataset
with a run id per slot). The Airflow DAG is loaded by Airflow itself in
tests/test_airflow.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from newsbeam.pipeline import cli

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
PYPROJECT = (REPO / "pyproject.toml").read_text()


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: comments dropped, continuations joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()
                                            if not line.lstrip().startswith("#")))  # fmt: skip
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            instructions.append((word.upper(), " ".join(rest.split())))
    return instructions


def test_dockerfile_parses_into_known_instructions() -> None:
    known = {"FROM", "ARG", "ENV", "WORKDIR", "COPY", "RUN", "LABEL", "USER", "ENTRYPOINT"}
    instructions = dockerfile_instructions((DEPLOY / "Dockerfile").read_text())
    assert instructions and instructions[0][0] == "FROM"
    unknown = [word for word, _ in instructions if word not in known]
    assert not unknown, unknown
    # The base image's entry point (Beam's boot) is what a worker runs: never replaced.
    assert "ENTRYPOINT" not in {word for word, _ in instructions}


def test_dockerfile_base_image_matches_the_pinned_beam_and_python() -> None:
    instructions = dockerfile_instructions((DEPLOY / "Dockerfile").read_text())
    base = instructions[0][1]
    match = re.fullmatch(r"apache/beam_python(\d)\.(\d+)_sdk:(\d+\.\d+\.\d+)", base)
    assert match, base
    python = (int(match[1]), int(match[2]))
    beam = tuple(int(part) for part in match[3].split("."))
    pin = re.search(r'"apache-beam>=(\d+\.\d+),<(\d+\.\d+)"', PYPROJECT)
    assert pin, "pyproject.toml pins apache-beam>=X.Y,<X.Z"
    low, high = pin.groups()
    assert tuple(map(int, low.split("."))) <= beam[:2] < tuple(map(int, high.split(".")))
    # The image runs what CI tests: this Python and this Beam.
    assert python == sys.version_info[:2]
    assert metadata.version("apache-beam") == match[3]


def image_references(instructions: list[tuple[str, str]]) -> list[str]:
    """Every image a Dockerfile pulls: its FROM lines' and its COPY --from= sources."""
    stages = {args.split()[-1] for word, args in instructions if word == "FROM" and " AS " in
              args.upper()}  # fmt: skip
    images = [args.split()[0] for word, args in instructions if word == "FROM"]
    for word, args in instructions:
        if word == "COPY" and args.startswith("--from="):
            source = args.split()[0].removeprefix("--from=")
            if source not in stages:
                images.append(source)
    return images


def is_pinned(image: str) -> bool:
    """An image named by a digest, or by a tag that is not `latest` (no tag is `latest`)."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def test_every_image_the_dockerfile_pulls_is_pinned() -> None:
    """The launcher image was `:latest`: two builds of one checkout could differ. Every base
    and every image copied from is named by a release tag (or a digest)."""
    assert is_pinned("apache/beam_python3.11_sdk:2.77.0")
    assert not is_pinned("gcr.io/x/launcher:latest")
    assert not is_pinned("localhost:5000/launcher")
    assert is_pinned("gcr.io/x/launcher@sha256:" + "0" * 64)
    instructions = dockerfile_instructions((DEPLOY / "Dockerfile").read_text())
    images = image_references(instructions)
    assert len(images) == 2, images  # the Beam SDK base and the Flex Template launcher
    assert [image for image in images if not is_pinned(image)] == []


def test_dockerfile_copies_only_what_exists_and_installs_the_package() -> None:
    instructions = dockerfile_instructions((DEPLOY / "Dockerfile").read_text())
    copies = [shlex.split(args) for word, args in instructions if word == "COPY"]
    local = [args for args in copies if not args[0].startswith("--from=")]
    assert local
    for args in local:
        for source in args[:-1]:
            assert (REPO / source).exists(), source
    copied = {Path(source).parts[0] for args in local for source in args[:-1]}
    # Every code folder the package is built from (pyproject's package-dir).
    folders = re.findall(r'^"newsbeam\.\w+" = "(\w+)"$', PYPROJECT, re.MULTILINE)
    assert folders and set(folders) <= copied, folders
    assert "pyproject.toml" in copied
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert re.search(r"pip install [^&]*\"\.\[gcp,aws\]\"", runs), runs
    env = dict(args.split("=", 1) for word, args in instructions if word == "ENV" and "=" in args)
    launcher = env["FLEX_TEMPLATE_PYTHON_PY_FILE"]
    # The file the Flex Template runs is one the image copies in (destinations are relative
    # to the WORKDIR in force), and it is the project's launcher.
    workdir, destinations = "/", {}
    for word, args in instructions:
        if word == "WORKDIR":
            workdir = os.path.join(workdir, args)
        elif word == "COPY" and not args.startswith("--from="):
            *sources, target = shlex.split(args)
            for source in sources:
                destinations[os.path.normpath(os.path.join(workdir, target))] = source
    assert destinations.get(launcher) == "deploy/dataflow/main.py", destinations


def test_build_context_sends_what_the_image_copies_and_nothing_else() -> None:
    """deploy/Dockerfile.dockerignore (BuildKit's per-Dockerfile ignore file) ignores all
    but what the COPY lines name: the checkout's .venv and .tmp never go to the builder."""
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"
    kept = {rule[1:] for rule in rules if rule.startswith("!")}
    instructions = dockerfile_instructions((DEPLOY / "Dockerfile").read_text())
    sources = {
        source
        for word, args in instructions
        if word == "COPY" and not args.startswith("--from=")
        for source in shlex.split(args)[:-1]
    }
    assert sources == kept, sources ^ kept


def test_flex_template_parameters_are_newsbeam_flags() -> None:
    metadata_file = json.loads((DEPLOY / "dataflow" / "metadata.json").read_text())
    flags = set(re.findall(r"--([a-z_]+)", cli.help_parser().format_help()))
    names = [parameter["name"] for parameter in metadata_file["parameters"]]
    assert names and set(names) <= flags, set(names) - flags
    required = {p["name"] for p in metadata_file["parameters"] if not p.get("isOptional")}
    assert {"input", "output"} <= required
    # Dataflow's workers see no local path: every path parameter must be on Cloud Storage.
    for parameter in metadata_file["parameters"]:
        if parameter["name"] in ("input", "feeds", "output", "state"):
            assert parameter["regexes"] == ["^gs://.+"], parameter
            assert re.match(parameter["regexes"][0], "gs://b/x")
            assert not re.match(parameter["regexes"][0], "/mnt/tables")


def test_launch_script_is_valid_bash_and_names_the_template_files() -> None:
    script = DEPLOY / "dataflow" / "launch.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "--metadata-file deploy/dataflow/metadata.json" in text
    assert "-f, deploy/Dockerfile" in text
    # Launched without its variables it stops and names them instead of guessing.
    done = subprocess.run(["bash", str(script), "run", "x"], capture_output=True, text=True,
                          cwd=REPO, env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode != 0 and "PROJECT" in done.stderr


def _commands(text: str) -> list[str]:
    """`newsbeam --input ...` commands of a unit file or a document (continued lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line for line in joined.splitlines() if re.search(r"\bnewsbeam --input\b", line)]


@pytest.mark.parametrize(
    "path",
    ["deploy/systemd/newsbeam-batch.service", "docs/deploying.md", "deploy/README.md"],
)
def test_scheduled_commands_write_one_dataset_with_a_run_id_per_slot(path: str) -> None:
    """Every scheduled command in deploy/ and the docs: one ROOT, --state apart from it, the
    slot as --run_id, and only paths a local run can use (no local path on Dataflow)."""
    commands = _commands((REPO / path).read_text())
    assert commands, path
    for line in commands:
        words = re.sub(r"[\\'\"]", " ", line).split()
        assert "--output" in words, line
        if "DataflowRunner" in words:
            for flag in ("--input", "--output", "--state"):
                if flag in words:
                    assert words[words.index(flag) + 1].startswith("gs://"), line
        if "--max_files_per_run" in words:  # a backfill in passes, each named by its start
            assert "--run_id" not in words, line
        elif path.endswith((".service", "deploying.md")) and "--state" in words:
            assert "--run_id" in words, line


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("NEWSBEAM_TEST_DOCKER") or not _docker_answers(),
    reason="builds the worker image: needs Docker and the registries (NEWSBEAM_TEST_DOCKER=1)",
)
def test_the_worker_image_builds_and_runs_newsbeam(tmp_path: Path) -> None:
    """Where Docker exists (and only when asked: the build pulls the base images), the
    image builds from the checkout and its Python runs NewsBeam against the pinned Beam."""
    tag = "newsbeam-test:worker"
    build = subprocess.run(
        ["docker", "build", "-f", str(DEPLOY / "Dockerfile"), "-t", tag, str(REPO)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    version = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "python", tag, "-m", "newsbeam.pipeline",
         "--version"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("newsbeam ") and "Apache Beam 2.77." in version.stdout


def run_bigquery_load(
    bin_dir: Path, scratch: Path, bq: str, gcloud: str, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run deploy/bigquery/load.sh with stand-ins for `bq` and `gcloud` (scripts: neither
    is on this machine) and the real `newsbeam`, in the temporary folder `scratch`."""
    for name, script in (("bq", bq), ("gcloud", gcloud)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    path = f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin"
    done = subprocess.run(
        ["bash", str(DEPLOY / "bigquery" / "load.sh"), "gs://b/news", "p:news"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path, "TMPDIR": str(scratch)},
        timeout=300,
    )
    assert (done.returncode == 0) == ok, done.stderr
    return done


def test_bigquery_load_writes_its_schemas_in_a_folder_of_its_own(tmp_path: Path) -> None:
    """deploy/bigquery/load.sh wrote each table's schema to /tmp/<table>.schema.json: a name
    every user and every concurrent load shares (and a link planted there redirects the
    write). It now writes them in a folder of its own, removed at its end. `bq` and
    `gcloud` (not on this machine) are stand-ins that record what they were given;
    `newsbeam schema` is the real one."""
    bin_dir, scratch, calls = tmp_path / "bin", tmp_path / "tmp", tmp_path / "calls.jsonl"
    bin_dir.mkdir()
    scratch.mkdir()
    bq = (
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "args = sys.argv[1:]\n"
        "if args[:1] == ['show']: sys.exit(1)  # no table yet: the script makes it\n"
        "if args[:1] == ['query']: print('f0_'); sys.exit(0)\n"
        "if args[:2] == ['mk', '--table'] and args[-1].endswith('.json'):\n"
        "    schema = json.load(open(args[-1]))\n"
        f"    with open({str(calls)!r}, 'a') as log:\n"
        "        log.write(json.dumps([args[-1], schema[0]['name']]) + '\\n')\n"
    )
    run_bigquery_load(bin_dir, scratch, bq, "#!/bin/sh\nexit 0\n")  # no run yet
    made = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [name for _, name in made] == ["article_id", "article_id", "source", "run_at"]
    for schema_path, _ in made:
        assert Path(schema_path).parent.parent == scratch, schema_path
    assert list(scratch.iterdir()) == []  # removed at the end


def test_bigquery_load_upgrades_an_older_table_and_inserts_by_name(tmp_path: Path) -> None:
    """Review 59: load.sh made each table once and inserted the rows by position, so after
    an upgrade (schema 5 added `outlet` after `site`) a table made at schema 4 either
    refused the newer files or took their values into the wrong columns. A table now gains
    the columns it lacks (NULLABLE, at the end) and the rows go in by column name. `bq`
    and `gcloud` are stand-ins (not on this machine) holding an older articles table;
    `newsbeam schema` is the real one."""
    bin_dir, scratch, calls = tmp_path / "bin", tmp_path / "tmp", tmp_path / "calls.jsonl"
    bin_dir.mkdir()
    scratch.mkdir()
    old_articles = [
        {"name": name, "type": "STRING", "mode": "NULLABLE"}
        for name in ("article_id", "source", "url", "canonical_url", "site", "title")
    ]
    file_columns = ["article_id", "source", "url", "canonical_url", "site", "outlet", "title",
                    "ingest_date"]  # fmt: skip
    manifest = {"run_id": "night-9", "attempt": "0000a001", "tables": {
        "articles": {"files": [{"path": "articles/ingest_date=2026-12-04/a.parquet"}]},
        "duplicates": {"files": []}, "rejected": {"files": []}, "feed_health": {"files": []},
    }}  # fmt: skip
    bq = (
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        f"log = open({str(calls)!r}, 'a')\n"
        "if args[:1] == ['show'] and '--schema' in args:\n"
        "    table = args[-1].split('.')[-1]\n"
        f"    if table == 'articles': print(json.dumps({old_articles!r}))\n"
        "    elif table.startswith('_load_'):\n"
        f"        print(json.dumps([{{'name': n, 'type': 'STRING'}} for n in {file_columns!r}]))\n"
        "    else: sys.exit(1)  # the other tables: made new\n"
        "    sys.exit(0)\n"
        "if args[:1] == ['show']: sys.exit(0)\n"
        "if args[:1] == ['update']:\n"
        "    log.write(json.dumps(['update', args[1], json.load(open(args[2]))]) + '\\n')\n"
        "if args[:1] == ['query']:\n"
        "    if '--format=csv' in args: print('f0_')\n"
        "    else: log.write(json.dumps(['query', args[-1]]) + '\\n')\n"
    )
    run_bigquery_load(bin_dir, scratch, bq, gcloud_stand_in(manifest))
    made = [json.loads(line) for line in calls.read_text().splitlines()]
    updates = [call for call in made if call[0] == "update"]
    assert [table for _, table, _ in updates] == ["p:news.articles"]
    merged = updates[0][2]
    assert [f["name"] for f in merged[:6]] == [f["name"] for f in old_articles]
    added = {f["name"]: f for f in merged[6:]}
    assert {"outlet", "run_id", "ingest_date"} <= set(added)
    assert all(f["mode"] in ("NULLABLE", "REPEATED") for f in added.values())
    (statements,) = [call[1] for call in made if call[0] == "query"]
    named = "article_id, source, url, canonical_url, site, outlet, title"
    assert f"INSERT INTO `p.news.articles` ({named}, run_id, ingest_date)" in statements
    assert f"SELECT {named}, 'night-9' AS run_id" in statements
    assert "SELECT *" not in statements


def gcloud_stand_in(manifest: dict[str, Any]) -> str:
    """`gcloud` listing one run, night-9, whose manifest is `manifest`."""
    return (
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "if sys.argv[2] == 'ls': print('gs://b/news/_runs/night-9.json')\n"
        f"else: print(json.dumps({manifest!r}))\n"
    )


def bigquery_stand_ins(
    calls: Path, manifest: dict[str, Any], columns: list[str]
) -> tuple[str, str]:
    """`bq` (no table yet; the scratch table has `columns`; queries logged to `calls`) and
    `gcloud` (one run, night-9, whose manifest is `manifest`)."""
    bq = (
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        f"log = open({str(calls)!r}, 'a')\n"
        "if args[:1] == ['show'] and '--schema' in args:\n"
        "    if not args[-1].split('.')[-1].startswith('_load_'): sys.exit(1)\n"
        f"    print(json.dumps([{{'name': n, 'type': 'STRING'}} for n in {columns!r}]))\n"
        "    sys.exit(0)\n"
        "if args[:1] == ['show']: sys.exit(0)\n"
        "if args[:1] == ['query']:\n"
        "    if '--format=csv' in args: print('f0_')\n"
        "    else: log.write(json.dumps(['query', args[-1]]) + '\\n')\n"
    )
    return bq, gcloud_stand_in(manifest)


def test_bigquery_load_refuses_a_manifest_and_columns_it_would_run_as_sql(tmp_path: Path) -> None:
    """Review 69: load.sh put a manifest's run id and attempt, and the loaded files' column
    names, into its SQL as they were ("Run ids are letters, digits and _.+- (NewsBeam
    checks them)": the file name is checked, the content was not). A manifest of a run id
    `x' OR TRUE OR '` made the DELETE of each table remove every run's rows. The manifest
    is now checked as `newsbeam warehouse` checks it, and only the columns NewsBeam's
    schema names are inserted."""
    bin_dir, scratch, calls = tmp_path / "bin", tmp_path / "tmp", tmp_path / "calls.jsonl"
    bin_dir.mkdir()
    scratch.mkdir()
    files = {"files": [{"path": "articles/ingest_date=2026-12-04/a.parquet"}]}
    tables = {"articles": files, "duplicates": {"files": []}, "rejected": {"files": []},
              "feed_health": {"files": []}}  # fmt: skip
    hostile = {"run_id": "x' OR TRUE OR '", "attempt": "0000a001", "tables": tables}
    done = run_bigquery_load(
        bin_dir, scratch, *bigquery_stand_ins(calls, hostile, ["article_id"]), ok=False
    )
    assert "night-9.json: not a usable NewsBeam run manifest" in done.stderr
    assert calls.read_text() == ""  # no statement run
    # A run id that is not its file's name, an attempt with a quote, a path with a comma.
    comma = {"files": [{"path": "articles/a,b"}]}
    for changed in ({"run_id": "night-8"}, {"attempt": "a' OR '1"},
                    {"tables": {**tables, "articles": comma}}):  # fmt: skip
        manifest = {"run_id": "night-9", "attempt": "0000a001", "tables": tables, **changed}
        run_bigquery_load(bin_dir, scratch, *bigquery_stand_ins(calls, manifest, []), ok=False)
    assert calls.read_text() == ""
    # A file with a column whose name is SQL: left out of the INSERT, the others go in.
    good = {"run_id": "night-9", "attempt": "0000a001", "tables": tables}
    columns = ["article_id", "title", "title) SELECT 1; DROP TABLE p.news.articles; --"]
    run_bigquery_load(bin_dir, scratch, *bigquery_stand_ins(calls, good, columns))
    (statements,) = [json.loads(line)[1] for line in calls.read_text().splitlines()]
    assert "INSERT INTO `p.news.articles` (article_id, title, run_id, ingest_date)" in statements
    assert "DROP" not in statements


# --- Kubernetes (deploy/kubernetes/) ---------------------------------------------------------

KUBERNETES = DEPLOY / "kubernetes"
MANIFESTS = sorted(KUBERNETES.glob("*.yaml"))


def kubernetes_documents() -> dict[str, list[dict[str, Any]]]:
    """Every YAML document of deploy/kubernetes/, by file name."""
    import yaml

    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in MANIFESTS
    }


def pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec = document["spec"]
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])


def expanded_args(container: dict[str, Any], values: dict[str, str]) -> list[str]:
    """The container's args as Kubernetes passes them: $(NAME) replaced by the container's
    env value, or by `values` for one taken from the pod (fieldRef, secretKeyRef)."""
    env = {item["name"]: item.get("value", values.get(item["name"], "")) for item in
           container.get("env", [])}  # fmt: skip
    return [re.sub(r"\$\((\w+)\)", lambda match: env[match[1]], arg) for arg in container["args"]]


def quantity_bytes(quantity: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 1000, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


def test_kubernetes_manifests_are_valid_objects_of_their_kinds() -> None:
    """deploy/kubernetes/ had nothing: a CronJob for batch runs, a Deployment for follow
    mode and one for the --streaming launcher now, each checked against the Kubernetes
    API's own schema (kubernetes-validate, strict: no field it does not know)."""
    import kubernetes_validate

    kinds = {
        name: sorted(doc["kind"] for doc in docs) for name, docs in kubernetes_documents().items()
    }
    assert kinds == {
        "newsbeam-batch.cronjob.yaml": ["ConfigMap", "CronJob", "PersistentVolumeClaim"],
        "newsbeam-follow.deployment.yaml": ["Deployment"],
        "newsbeam-streaming.deployment.yaml": ["Deployment"],
    }
    for docs in kubernetes_documents().values():
        for doc in docs:
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("name", [path.name for path in MANIFESTS])
def test_kubernetes_pods_run_newsbeam_as_its_cli_takes_it(name: str) -> None:
    """Every workload runs the image's `newsbeam` command (its entry point is Beam's boot),
    with flags the command accepts, as a non-root user on a read-only root filesystem with
    a writable /tmp as TMPDIR, within the measured memory; one writer of the state at a
    time (CronJob Forbid, one replica recreated)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from newsbeam.pipeline.options import NewsBeamOptions

    assert re.search(r'^newsbeam = "newsbeam\.pipeline\.main:command"$', PYPROJECT, re.M)
    workloads = [doc for doc in kubernetes_documents()[name] if "template" in str(doc.get("spec"))]
    assert len(workloads) == 1
    workload = workloads[0]
    if workload["kind"] == "CronJob":
        assert workload["spec"]["concurrencyPolicy"] == "Forbid"
        assert pod_spec(workload)["restartPolicy"] == "Never"
    else:
        assert workload["spec"]["replicas"] == 1
        assert workload["spec"]["strategy"]["type"] == "Recreate"
    pod = pod_spec(workload)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    assert container["command"] == ["newsbeam"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {item["name"]: item.get("value") for item in container["env"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert env["TMPDIR"] == "/tmp" and "emptyDir" in volumes[mounts["/tmp"]]
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    # benchmarks/README.md: one run of 13,170 files peaked at 1.5 GB (1.07 GB in passes).
    assert quantity_bytes(limits["memory"]) >= 1.5e9
    assert quantity_bytes(requests["memory"]) <= quantity_bytes(limits["memory"])

    argv = cli.check_flags(expanded_args(container, {"JOB_NAME": "newsbeam-batch-29412345"}))
    options = PipelineOptions(argv).view_as(NewsBeamOptions)  # the paths are the pod's
    assert options.output and options.state
    if options.output.startswith("/"):
        # A local ROOT and STATE on the pod's volume, their parent too: the run's lock
        # files are written beside them (docs/deploying.md, "No overlap").
        for path in (options.output, options.state):
            parent = os.path.dirname(path)
            assert mounts.get(parent) in volumes, path
            assert "persistentVolumeClaim" in volumes[mounts[parent]], path
        assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    if workload["kind"] == "CronJob":
        # A run id per scheduled slot: the Job's name, the same for its retries.
        (job_name,) = [item for item in container["env"] if item["name"] == "JOB_NAME"]
        label = job_name["valueFrom"]["fieldRef"]["fieldPath"]
        assert label == "metadata.labels['batch.kubernetes.io/job-name']"
        assert options.run_id == "newsbeam-batch-29412345"


def test_the_cronjobs_command_runs_as_the_pod_would(tmp_path: Path) -> None:
    """The CronJob's own args, its volumes' paths moved under tmp_path (the feed list
    emptied: no network here), with its environment (TMPDIR and HOME on /tmp): a committed
    run named after the Job, and nothing written outside the volume and /tmp."""
    (cronjob,) = [
        doc for doc in kubernetes_documents()["newsbeam-batch.cronjob.yaml"]
        if doc["kind"] == "CronJob"
    ]  # fmt: skip
    (container,) = pod_spec(cronjob)["containers"]
    data, etc, tmp = tmp_path / "data", tmp_path / "etc", tmp_path / "tmp"
    for folder in (data / "inbox", etc, tmp):
        folder.mkdir(parents=True)
    for seed in sorted((REPO / "seeds").iterdir())[:3]:
        shutil.copy(seed, data / "inbox" / seed.name)
    (etc / "feeds.txt").write_text("# no feed here\n")
    args = [
        arg.replace("=/data/", f"={data}/").replace("=/etc/newsbeam/", f"={etc}/")
        for arg in expanded_args(container, {"JOB_NAME": "newsbeam-batch-29412345"})
    ]
    env = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    env = {name: value.replace("/tmp", str(tmp)) for name, value in env.items()}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "newsbeam"), *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **env},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (data / "dataset" / "_runs" / "newsbeam-batch-29412345.json").exists()
    names = {path.name for path in data.iterdir()}
    locks = {".dataset.newsbeam.lock", ".state.newsbeam.lock"}
    assert {"dataset", "inbox", "state"} <= names <= {"dataset", "inbox", "state", *locks}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "etc", "tmp"]
    assert "WARNING" not in done.stderr, done.stderr

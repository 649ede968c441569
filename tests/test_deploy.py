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
    (bin_dir / "bq").write_text(bq)
    (bin_dir / "gcloud").write_text("#!/bin/sh\nexit 0\n")  # `storage ls`: no run yet
    for stub in ("bq", "gcloud"):
        (bin_dir / stub).chmod(0o755)
    path = f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin"
    done = subprocess.run(
        ["bash", str(DEPLOY / "bigquery" / "load.sh"), "gs://b/news", "p:news"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path, "TMPDIR": str(scratch)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    made = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [name for _, name in made] == ["article_id", "article_id", "source", "run_at"]
    for schema_path, _ in made:
        assert Path(schema_path).parent.parent == scratch, schema_path
    assert list(scratch.iterdir()) == []  # removed at the end

#!/usr/bin/env bash
# Build NewsBeam's image and Flex Template, then launch one run on Dataflow.
#
#   deploy/dataflow/launch.sh build              # image + template spec (once per release)
#   deploy/dataflow/launch.sh run RUN_ID         # one run, e.g. RUN_ID=20261201 (a day)
#
# Set these first (no defaults: a wrong project must not be guessed):
#   PROJECT  REGION  BUCKET (gs://BUCKET without the scheme)  REPOSITORY (Artifact Registry)
# Run from the checkout's root. Needs gcloud, authenticated, with Dataflow, Cloud Build and
# Artifact Registry enabled. Input, dataset and state are all on Cloud Storage: Dataflow
# workers and the launcher cannot see a local path (newsbeam refuses one, exit 2).
set -euo pipefail

: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${BUCKET:?set BUCKET}"
: "${REPOSITORY:?set REPOSITORY (an Artifact Registry Docker repository)}"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE="${REGION}-docker.pkg.dev/${PROJECT}/${REPOSITORY}/newsbeam:${VERSION}"
TEMPLATE="gs://${BUCKET}/templates/newsbeam-${VERSION}.json"

case "${1:-}" in
  build)
    # The image (deploy/Dockerfile) is both the launcher and the workers' SDK image.
    gcloud builds submit --project "$PROJECT" --region "$REGION" \
      --config /dev/stdin . <<YAML
steps:
  - name: gcr.io/cloud-builders/docker
    args: [build, -f, deploy/Dockerfile, -t, "$IMAGE", .]
images: ["$IMAGE"]
YAML
    gcloud dataflow flex-template build "$TEMPLATE" --project "$PROJECT" \
      --image "$IMAGE" --sdk-language PYTHON --metadata-file deploy/dataflow/metadata.json
    ;;
  run)
    RUN_ID="${2:?usage: launch.sh run RUN_ID}"
    # One job per dataset ROOT at a time: an object store has no lock (docs/deploying.md).
    gcloud dataflow flex-template run "newsbeam-$(echo "$RUN_ID" | tr 'A-Z_.+' 'a-z---')" \
      --project "$PROJECT" --region "$REGION" \
      --template-file-gcs-location "$TEMPLATE" \
      --temp-location "gs://${BUCKET}/tmp" --staging-location "gs://${BUCKET}/staging" \
      --parameters "input=gs://${BUCKET}/inbox/,feeds=gs://${BUCKET}/feeds.txt" \
      --parameters "output=gs://${BUCKET}/newsbeam,state=gs://${BUCKET}/newsbeam-state" \
      --parameters "run_id=${RUN_ID},state_keep_days=30" \
      --parameters "sdk_container_image=${IMAGE}"
    ;;
  *)
    sed -n '2,12p' "$0"
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Load the committed runs of a NewsBeam dataset on Cloud Storage into native BigQuery tables,
# run by run: only the files a run's manifest lists, each row with its run_id and
# ingest_date (the columns `newsbeam warehouse` adds), a rerun's old rows replaced.
# An example to adapt (it needs bq, gcloud and newsbeam on PATH); not run by NewsBeam's tests.
#
#   deploy/bigquery/load.sh gs://BUCKET/newsbeam my-project:news
#
# Each run is one BigQuery multi-statement transaction per table plus the bookkeeping row in
# _newsbeam_loads: a load that dies is repeated whole by the next call, never doubled.
set -euo pipefail

ROOT=${1:?usage: load.sh gs://BUCKET/ROOT PROJECT:DATASET}
DATASET=${2:?usage: load.sh gs://BUCKET/ROOT PROJECT:DATASET}
SQL_DATASET=${DATASET/:/.}
TABLES=(articles duplicates rejected feed_health)

# The tables, partitioned by ingest date, with the schemas NewsBeam derives from its own
# (written in a folder of this call's own: a fixed /tmp name is shared by every user and
# every load running at once, and a link planted there redirects the write).
schemas=$(mktemp -d)
trap 'rm -rf "$schemas"' EXIT
# A table an older NewsBeam made gains the columns a newer schema added (NULLABLE, at the
# end: BigQuery adds columns only there); rows already loaded read them as null.
for table in "${TABLES[@]}"; do
  newsbeam schema --format bigquery --table "$table" --with_run_columns >"$schemas/$table.json"
  if ! bq show --schema --format=json "$DATASET.$table" >"$schemas/$table.have.json" 2>/dev/null
  then
    bq mk --table --time_partitioning_field=ingest_date --time_partitioning_type=DAY \
      "$DATASET.$table" "$schemas/$table.json"
  else
    added=0
    python3 - "$schemas/$table.have.json" "$schemas/$table.json" \
      "$schemas/$table.merged.json" <<'MERGE' || added=$?
import json, sys
have, want = (json.load(open(path)) for path in sys.argv[1:3])
known = {field["name"] for field in have}
added = [{**field, "mode": field.get("mode") if field.get("mode") == "REPEATED" else "NULLABLE"}
         for field in want if field["name"] not in known]
json.dump(have + added, open(sys.argv[3], "w"), indent=1)
sys.exit(0 if added else 10)  # 10: nothing to add
MERGE
    if [ "$added" = 0 ]; then
      bq update "$DATASET.$table" "$schemas/$table.merged.json"
    elif [ "$added" != 10 ]; then
      exit "$added"
    fi
  fi
done
bq show "$DATASET._newsbeam_loads" >/dev/null 2>&1 ||
  bq mk --table "$DATASET._newsbeam_loads" run_id:STRING,attempt:STRING,loaded_at:TIMESTAMP

loaded=$(bq query --quiet --format=csv --use_legacy_sql=false \
  "SELECT CONCAT(run_id, '.', attempt) FROM \`$SQL_DATASET._newsbeam_loads\`" | tail -n +2)

for manifest in $(gcloud storage ls "$ROOT/_runs/*.json"); do
  # run id, attempt, then one line per table: the table and its files' URIs.
  # The manifest is checked as `newsbeam warehouse` checks it (pipeline/dataset.py): its
  # run id, attempt and paths go into SQL and a URI list below, and anyone who can write
  # ROOT can write a manifest. One that fails stops the load (set -e), nothing loaded.
  plan=$(gcloud storage cat "$manifest" | python3 -c '
import json, re, sys
m = json.load(sys.stdin)
name = sys.argv[2].rsplit("/", 1)[-1].removesuffix(".json")
run, attempt = m.get("run_id"), m.get("attempt")
tables = ("articles", "duplicates", "rejected", "feed_health")
paths = [f.get("path") for t in tables for f in m["tables"][t]["files"]]
if not (
    isinstance(run, str) and run == name
    and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}", run)
    and isinstance(attempt, str) and re.fullmatch(r"[0-9a-f]{8}", attempt)
    and all(isinstance(p, str) and re.fullmatch(r"[A-Za-z0-9_.+=/-]+", p)
            and ".." not in p.split("/") for p in paths)
):
    sys.exit(f"{sys.argv[2]}: not a usable NewsBeam run manifest (run id, attempt or paths)")
print(run, attempt)
for table in tables:
    uris = ",".join(sys.argv[1] + "/" + f["path"] for f in m["tables"][table]["files"])
    print(table, uris)
' "$ROOT" "$manifest")
  read -r run attempt <<<"$(head -n 1 <<<"$plan")"
  if grep -qxF "$run.$attempt" <<<"$loaded"; then continue; fi
  echo "loading run $run (attempt $attempt)"
  statements="BEGIN TRANSACTION;"
  while read -r table uris; do
    # Run ids are letters, digits and _.+- (checked above): safe inside quotes.
    statements+="
      DELETE FROM \`$SQL_DATASET.$table\` WHERE run_id = '$run';"
    [ -n "$uris" ] || continue
    # The files as they are, into a scratch table (ingest_date from the hive path).
    bq load --replace --source_format=PARQUET --parquet_enable_list_inference \
      --hive_partitioning_mode=CUSTOM \
      --hive_partitioning_source_uri_prefix="$ROOT/$table/{ingest_date:DATE}" \
      "$DATASET._load_$table" "$uris"
    # By name, not position: files of another schema version have other columns, or the
    # same in another order (a column added in the middle of a newer schema). Only the
    # columns NewsBeam's schema names: a file's own column names would go into the SQL.
    columns=$(bq show --schema --format=json "$DATASET._load_$table" | python3 -c '
import json, sys
known = {f["name"] for f in json.load(open(sys.argv[1]))} - {"ingest_date", "run_id"}
print(", ".join(f["name"] for f in json.load(sys.stdin) if f["name"] in known))
' "$schemas/$table.json")
    statements+="
      INSERT INTO \`$SQL_DATASET.$table\` ($columns, run_id, ingest_date)
        SELECT $columns, '$run' AS run_id, ingest_date
        FROM \`$SQL_DATASET._load_$table\`;"
  done < <(tail -n +2 <<<"$plan")
  statements+="
    DELETE FROM \`$SQL_DATASET._newsbeam_loads\` WHERE run_id = '$run';
    INSERT INTO \`$SQL_DATASET._newsbeam_loads\` VALUES ('$run', '$attempt', CURRENT_TIMESTAMP());
    COMMIT TRANSACTION;"
  bq query --quiet --use_legacy_sql=false "$statements" >/dev/null
done

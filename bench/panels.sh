#!/usr/bin/env bash
# Times every panel of the PostgreSQL dashboard at the fleet's real size:
# a synthetic 90 days of 100,000 installs (30 % active on a day) in a real
# PostgreSQL (started on 127.0.0.1 and stopped), each query over the
# dashboard's default range; prints per panel the median and p90 (target:
# 1 s median) and how long the fleet took to generate. Flags go to the
# program (function/bench/panels), e.g. a small run:
#
#   bench/panels.sh -installs 1000 -days 7
#   bench/panels.sh -dashboard function/dashboards/pace-telemetry-postgres.json,OTHER.json -explain
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./function/bench/panels "$@"

#!/usr/bin/env bash
# Regenerate the committed formulas from the default commands (seed 0).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=$(mktemp -d)
run=$(kansym discover --target be --subset even-even --runs-dir "$runs" --quiet)
kansym export "$run" --name be_even_even_znv --force
run=$(kansym discover --target be --subset even-even --features zn --runs-dir "$runs" --quiet)
kansym export "$run" --name be_even_even_zn --force
run=$(kansym discover --target residual --model ws4 --runs-dir "$runs" --quiet)
kansym export "$run" --name residual_ws4_znps --force
rm -rf "$runs"

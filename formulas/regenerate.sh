#!/usr/bin/env bash
# Regenerate the committed formulas from the default commands (seed 0: ensemble members 0-3, formula search
# over all of them, the choice rule of kansym.symbolic.search).
set -euo pipefail
cd "$(dirname "$0")/.."
registry=${1:-formulas}
runs=$(mktemp -d)
run=$(kansym discover --target be --subset even-even --runs-dir "$runs" --quiet)
kansym export "$run" --name be_even_even_znst --registry "$registry" --runs-dir "$runs" --force
run=$(kansym discover --target be --subset even-even --features znv --runs-dir "$runs" --quiet)
kansym export "$run" --name be_even_even_znv --registry "$registry" --runs-dir "$runs" --force
run=$(kansym discover --target be --subset even-even --features zn --runs-dir "$runs" --quiet)
kansym export "$run" --name be_even_even_zn --registry "$registry" --runs-dir "$runs" --force
run=$(kansym discover --target be --subset even-even --features zn --baseline linear --runs-dir "$runs" --quiet)
kansym export "$run" --name be_even_even_zn_linear --registry "$registry" --runs-dir "$runs" --force
run=$(kansym discover --target residual --model ws4 --runs-dir "$runs" --quiet)
kansym export "$run" --name residual_ws4_znps --registry "$registry" --runs-dir "$runs" --force
rm -rf "$runs"

#!/bin/bash
# Submits a sweep as an array of N shards and its merge, which runs when
# every shard has succeeded.
#
#   deploy/slurm/submit.sh 16                    # deploy/sweep.toml → sweep-results/
#   SWEEP=my.toml OUT=runs/a deploy/slurm/submit.sh 64
set -euo pipefail
N=${1:?usage: submit.sh SHARDS}
here=$(dirname "$0")
array=$(sbatch --parsable --export=ALL --array="0-$((N - 1))" "$here/sweep.sbatch")
sbatch --export=ALL --dependency="afterok:${array%%;*}" "$here/merge.sbatch"

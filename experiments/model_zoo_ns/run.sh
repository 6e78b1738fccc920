#!/bin/bash
# Train and evaluate every model of the zoo on the same data and budget, in sequence, and write
# each run's wall time to $OUT/times.txt. Usage: experiments/model_zoo_ns/run.sh OUT [MODEL ...]
# (default: unet sinenet4 fno factformer). The data path is the configs' data.path.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: run.sh OUT [MODEL ...]}; shift
models=${*:-unet sinenet4 fno factformer}
mkdir -p "$out"
for model in $models; do
  start=$(date +%s)
  .venv/bin/neuralpde train "experiments/model_zoo_ns/$model.yaml" --out "$out/$model" --no-evaluate \
    > "$out/$model.train.log" 2>&1
  trained=$(date +%s)
  .venv/bin/neuralpde evaluate "$out/$model" > "$out/$model.evaluate.log" 2>&1
  echo "$model train_s $((trained - start)) load $(cut -d' ' -f1-3 /proc/loadavg)" \
    >> "$out/times.txt"
done

#!/usr/bin/env bash
# Regenerate docs/examples/ with the shipped demo model: a turntable from a sample photo, a person-to-person
# example, an outfit (two layers) and a batch with its contact sheet. Minutes on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OMFA=.venv/bin/omfa
S=resources/samples
OUT=docs/examples
rm -rf "$OUT/turntable" "$OUT/person_to_person" "$OUT/outfit" "$OUT/batch" "$OUT/batch_inputs"
mkdir -p "$OUT"

# 1. Turntable from one photo: the garment is taken off the photo, the pose and head come from it (BlazePose),
#    24 views in 3 batches of 8 views sharing the clean panels.
$OMFA turntable --photo $S/demo_002_person.png --views 24 --batch 8 --fps 10 --out "$OUT/turntable" --quiet

# 2. Person to person: the garment worn in photo A, on the person of photo B, in B's own (estimated) pose.
$OMFA person-to-person --from $S/demo_000_person.png --to $S/demo_001_person.png --head $S/demo_001_head.png \
  --out "$OUT/person_to_person" --quiet

# 3. An outfit: one garment, then another layered over it (strength 0.6 keeps part of the layer below).
$OMFA outfit --garment $S/demo_004_garment.png --garment $S/demo_003_garment.png --head $S/demo_004_head.png \
  --pose walking --strength 0.6 --out "$OUT/outfit" --quiet

# 4. A batch: 3 clients x 3 garments (two flat, one a photo to take off first is a separate run) x 2 poses.
B="$OUT/batch_inputs"
mkdir -p "$B/people" "$B/heads" "$B/garments"
for i in 0 5 6; do
  cp $S/demo_00${i}_person.png "$B/people/client_$i.png"
  cp $S/demo_00${i}_head.png "$B/heads/client_$i.png"
done
for i in 1 3 7; do cp $S/demo_00${i}_garment.png "$B/garments/garment_$i.png"; done
$OMFA batch --people "$B/people" --heads "$B/heads" --garments "$B/garments" --poses walking,waving \
  --out "$OUT/batch" --quiet
echo "examples written to $OUT"

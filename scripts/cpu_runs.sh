#!/usr/bin/env bash
# Start or resume genfer's CPU training runs in the background (each resumes from its last checkpoint).
#
#   scripts/cpu_runs.sh mae switchgan        # start/resume these runs
#   scripts/cpu_runs.sh --list               # the runs this script knows
#   AFTER=PID scripts/cpu_runs.sh --queue vit-mae pfvit   # one after another, once process PID has ended
#   RT=1 scripts/cpu_runs.sh stylegan2        # the long run keeps one core (real-time round-robin, priority 1;
#                                             # with --queue: each run of the queue)
#
# GENFER_SRC=DIR runs the code of another checkout (e.g. a `git worktree` at a fixed commit), so that editing
# this one cannot break a run that imports modules lazily.
# Runs live in $GENFER_RUNS (default ~/genfer-runs, outside the checkout so a fresh checkout keeps them);
# `runs/` in the checkout may be a symlink to it. Each run gets RUN.log next to its folder. One thread per run
# and OMP_WAIT_POLICY=PASSIVE keep several runs efficient on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${GENFER_RUNS:-$HOME/genfer-runs}"
mkdir -p "$RUNS"
export GENFER_DATA="${GENFER_DATA:-$(cd .. && pwd)/shared/data}" OMP_WAIT_POLICY=PASSIVE
if [[ -n "${GENFER_SRC:-}" ]]; then export PYTHONPATH="$GENFER_SRC/src${PYTHONPATH:+:$PYTHONPATH}"; fi
THREADS="${THREADS:-1}"

# Table VII's ablations run at an equal 3-epoch budget, against the same model at 3 epochs (switchgan-short).
ABLATION="--set gan_optim.epochs=3 --set cls_optim.epochs=3"
# PF-ViT explorations of the separation/recognition trade-off (docs/pfvit.md): 4 epochs, direct weight 0.1 or 0.3.
PFVIT_4EP="--set optim.epochs=4 --set disc_optim.epochs=4"
# ... and at the 2-epoch budget with L_emo weighted 3 (direct weight 0.1 or 1).
PFVIT_EMO3="--set init_from=$RUNS/mae-cpu/final --set weights.emo=3"
# PF-ViT against its ViT baseline at one recipe (docs/pfvit.md, "An equal recipe"): both from the same MAE (re-run `mae`
# first), the baseline's weight average (EMA 0.999) and drop-path 0.1 in E, set explicitly in both
EQUAL_RECIPE="--set init_from=$RUNS/mae-cpu/final --set optim.ema_decay=0.999"
# PF-ViT with G's windowed output head and the shifted D (docs/pfvit.md), and its continuations with D warmed up first
WINDOWED="--set weights.emo=3 --set model.output_head=windowed --set model.disc_views=shifted"
WINDOWED_DWARM="--set init_from=$RUNS/pfvit-cpu-windowed/final $WINDOWED --set disc_warmup_steps=400 --set optim.epochs=1.25 --set disc_optim.epochs=1.25"
# ASIT runs invert the final generator (not the cpu preset's default, today's psp-gray64); Table 4's equal budget.
ASIT_GEN="--set generator=$RUNS/stylegan2-cpu"
ASIT_ABL="--set steps=3000"
# IFER's Table 5 / Table 3 rows at one budget: the cpu preset's 2,000 steps of 32 faces (64k faces, about 2.3 epochs of
# FERPlus train; the paper's appendix: 320 iterations of 64 = 20k faces); about 0.36 s per step on one thread
IFER_BUDGET="--set steps=2000"
declare -A CMD=(
  [mae]="train mae --preset cpu --out $RUNS/mae-cpu"
  [vit-scratch]="train --preset cpu_vit --out $RUNS/vit-scratch"
  [vit-mae]="train --preset cpu_vit --set init_from=$RUNS/mae-cpu/final --out $RUNS/vit-mae"
  [pfvit]="train pfvit --preset cpu --set init_from=$RUNS/mae-cpu/final --out $RUNS/pfvit-cpu"
  [pfvit-direct]="train pfvit --preset cpu --set init_from=$RUNS/mae-cpu/final --set model.orthogonality=direct --out $RUNS/pfvit-cpu-direct"
  [pfvit-4ep]="train pfvit --preset cpu --set init_from=$RUNS/mae-cpu/final $PFVIT_4EP --out $RUNS/pfvit-cpu-4ep"
  [pfvit-ortho0.3-4ep]="train pfvit --preset cpu --set init_from=$RUNS/mae-cpu/final $PFVIT_4EP --set weights.ortho=0.3 --out $RUNS/pfvit-cpu-ortho0.3-4ep"
  [pfvit-emo3]="train pfvit --preset cpu $PFVIT_EMO3 --out $RUNS/pfvit-cpu-emo3"
  [pfvit-emo3-ortho1]="train pfvit --preset cpu $PFVIT_EMO3 --set weights.ortho=1 --out $RUNS/pfvit-cpu-emo3-ortho1"
  # generated-faces issue: the shipped PF-ViT continued with G's convolutional output head (block seams), 1 epoch
  [pfvit-convhead]="train pfvit --preset cpu --set init_from=pfvit --set weights.emo=3 --set model.output_head=conv --set optim.epochs=1 --set disc_optim.epochs=1 --out $RUNS/pfvit-cpu-convhead"
  # ... and with a D that also sees the image shifted by half a patch (G's seams inside its patches), 2 epochs
  [pfvit-shiftd]="train pfvit --preset cpu --set init_from=pfvit --set weights.emo=3 --set model.output_head=conv --set model.disc_views=shifted --set optim.epochs=2 --set disc_optim.epochs=2 --out $RUNS/pfvit-cpu-shiftd"
  [pfvit-generic]="train pfvit --preset cpu --set init_from=$RUNS/mae-cpu/final --set model.orthogonality=generic --out $RUNS/pfvit-cpu-generic"
  [vit-mae-equal]="train --preset cpu_vit $EQUAL_RECIPE --set model.drop_rate=0.1 --out $RUNS/vit-mae-equal"
  # (PF-ViT as shipped since 2026-11-30: L_emo weight 3, windowed head, shifted D, D's emotion units on real faces)
  [pfvit-equal]="train pfvit --preset cpu $EQUAL_RECIPE --set model.mae.encoder.drop_path=0.1 $WINDOWED --set model.disc_emotion=real --out $RUNS/pfvit-cpu-equal"
  [switchgan]="train switchgan --preset cpu --out $RUNS/switchgan-cpu"
  # generated-faces issue (item 3): retrain the shipped switch-unit GAN without ghosts (L_per on channel means, TV of the
  # residuals, pooled switch: the cpu preset's defaults since then, set explicitly here), 15 epochs (the shipped 10: 2.2 h)
  [switchgan-noghost]="train switchgan --preset cpu --set perceptual_features=pooled --set tv_target=residual --set model.pooled_switch=true --set gan_optim.epochs=15 --set cls_optim.epochs=15 --out $RUNS/switchgan-cpu-noghost"
  # ... and a fine-tune of it for the hit rate (issue 17's 55 %): L_per (pooled features of F, an expression network,
  # between each transfer and its reference) weighted 30 instead of 15, 3 epochs from its last checkpoint (G, C, D)
  [switchgan-ft-per30]="train switchgan --preset cpu --set perceptual_features=pooled --set tv_target=residual --set model.pooled_switch=true --set init_from=$RUNS/switchgan-noghost-last --set weights.per=30 --set gan_optim.epochs=3 --set cls_optim.epochs=3 --out $RUNS/switchgan-cpu-ft-per30"
  [switchgan-short]="train switchgan --preset cpu $ABLATION --out $RUNS/switchgan-cpu-3ep"
  [switchgan-no-interl]="train switchgan --preset cpu $ABLATION --set interpolation_loss=false --out $RUNS/switchgan-cpu-3ep-no-interl"
  # ... and G without per-patch projections (the upsample head: no patch borders by construction) with that D, 2 epochs
  [pfvit-upsample]="train pfvit --preset cpu --set init_from=pfvit --set weights.emo=3 --set model.output_head=upsample --set model.disc_views=shifted --set optim.epochs=2 --set disc_optim.epochs=2 --out $RUNS/pfvit-cpu-upsample"
  # ... and G's tiles overlapping under a triangular window (the windowed head: continuous across patch borders, started
  # from the shipped per-patch head; the upsample head stayed blurred: docs/pfvit.md), with that D, 1 epoch
  [pfvit-windowed]="train pfvit --preset cpu --set init_from=pfvit $WINDOWED --set optim.epochs=1 --set disc_optim.epochs=1 --out $RUNS/pfvit-cpu-windowed"
  # ... then continued with D warmed up first (400 D-only steps: D read every face as neutral midway, docs/pfvit.md), 1.25
  # epochs (1.5 until step 241: shortened on resume to end within a session)
  [pfvit-windowed-dwarm]="train pfvit --preset cpu $WINDOWED_DWARM --out $RUNS/pfvit-cpu-windowed-dwarm"
  # ... and with D's emotion units learning from real faces only (model.disc_emotion=real, StarGAN's rule): after the
  # warm-up under Eq. 8's targets D still read every face as neutral (docs/pfvit.md)
  [pfvit-windowed-reald]="train pfvit --preset cpu $WINDOWED_DWARM --set model.disc_emotion=real --out $RUNS/pfvit-cpu-windowed-reald"
  # ... continued 1.25 epochs more from its last checkpoint, whose D (now partly reading expressions) init_from keeps
  [pfvit-windowed-reald2]="train pfvit --preset cpu --set init_from=$RUNS/pfvit-cpu-windowed-reald/ckpt-000001052 $WINDOWED --set model.disc_emotion=real --set optim.epochs=1.25 --set disc_optim.epochs=1.25 --out $RUNS/pfvit-cpu-windowed-reald2"
  [switchgan-no-expr]="train switchgan --preset cpu $ABLATION --set expression_representation=false --out $RUNS/switchgan-cpu-3ep-no-expr"
  [switchgan-no-synfi]="train switchgan --preset cpu $ABLATION --set synthesised_faces_for_classifier=false --set expression_representation=false --out $RUNS/switchgan-cpu-3ep-no-synfi"
  [stylegan2]="train stylegan2 --preset cpu --out $RUNS/stylegan2-cpu"
  # the from-scratch run again from its 202-kimg snapshot (its 1,050-kimg final/ was lost with ~/genfer-runs): the same
  # recipe, 1,300 kimg more at most (kimg here counts from the snapshot; docs/inversion.md), ended at the first FID*
  # <= 0.5 (the issue's target; the lost run showed where the curve flattens) or by the preset's plateau rule
  [stylegan2-redo]="train stylegan2 --preset cpu --set init_from=snapshots/stylegan2-cpu --set kimg=1300 --set target_fid=0.5 --out $RUNS/stylegan2-cpu"
  [stylegan2-cont]="train stylegan2 --preset cpu --set init_from=psp-gray64 --set kimg=1000 --set d_warmup_kimg=50 --out $RUNS/stylegan2-cpu-cont"
  # capacity side run (generated-faces issue): twice the channels and style size of the cpu preset, from scratch;
  # compare FID* per training second with the cpu run's curve in docs/inversion.md
  [stylegan2-wide]="train stylegan2 --preset cpu --set model.channels=[256,256,128,64,32] --set model.style_dim=256 --set eval_every_kimg=10 --out $RUNS/stylegan2-wide"
  # a more accurate recognizer (issue 19, docs/recognizer.md "Distillation"): a second teacher, then
  # `python scripts/teacher_targets.py --models fer-resnet18s-48,$RUNS/cpu-seed1/final --tta --out $RUNS/teacher-ferplus.npz`,
  # then the student on the ensemble's targets, 60 epochs
  # (bfloat16 autocast: about 1.3x cheaper per step on this CPU, docs/recognizer.md; the teacher's accuracy against the
  # fp32 seed-0 model measures what it costs)
  [recognizer-seed1]="train --preset cpu --set seed=1 --set optim.precision=bfloat16 --out $RUNS/cpu-seed1"
  [recognizer-distill]="train --preset cpu --set data.teacher=$RUNS/teacher-ferplus.npz --set data.teacher_weight=0.5 --set optim.epochs=60 --set optim.precision=bfloat16 --out $RUNS/cpu-distill"
  # the FER2013-label model (PublicTest target 69 %) fine-tuned from the distilled student, longer than cpu_fer2013's 16
  # epochs (its curve was still rising at 16)
  [recognizer-fer2013-distilled]="train --preset cpu_fer2013 --set init_from=$RUNS/cpu-distill/final --set optim.epochs=24 --set optim.precision=bfloat16 --out $RUNS/fer2013-distilled"
  [psp]="train psp --preset cpu --set generator=$RUNS/stylegan2-cpu --out $RUNS/psp-cpu"
  # ... continued to 20k steps while its validation SSIM still rose at 12k (issue 17); queue it after `psp`, whose
  # 12k-step state the queue keeps as psp-cpu-12k (SNAPSHOT below; Table 1's row at ASIT's equal budget)
  [psp-long]="train psp --preset cpu --set generator=$RUNS/stylegan2-cpu --set steps=20000 --out $RUNS/psp-cpu"
  # pSp encoder probes before the final pSp (SSIM target 0.60; the shipped encoder's curve rose 0.007 per 1k steps to
  # 0.519 at 9k): the cpu encoder against a wider, deeper one, 3k steps each on one fixed generator snapshot (the run's
  # best/ at 700 kimg, copied to stylegan2-snap700), compared at equal steps and equal training seconds
  [psp-probe]="train psp --preset cpu --set generator=$RUNS/stylegan2-snap700 --set steps=3000 --set eval_every_steps=500 --out $RUNS/psp-probe-base"
  [psp-probe-wide]="train psp --preset cpu --set generator=$RUNS/stylegan2-snap700 --set steps=3000 --set eval_every_steps=500 --set encoder.stage_channels=[64,96,128,256] --set encoder.stage_blocks=[2,3,4,2] --out $RUNS/psp-probe-wide"
  # latent emotion editing (docs/latent-editing.md), on the final generator (its run folder: directions need no encoder,
  # and the pSp trained on it holds the same weights, checked by the generator fingerprint): directions (60,000
  # samples, about 25 min alone), InterFaceGAN's SVM and the per-entry W+ variant for comparison; HyperStyle over pSp
  [directions]="directions fit --preset cpu --model $RUNS/stylegan2-cpu --out $RUNS/directions-cpu"
  [directions-svm]="directions fit --preset cpu --model $RUNS/stylegan2-cpu --method svm --extremes 3000 --out $RUNS/directions-cpu-svm"
  [directions-wplus]="directions fit --preset cpu --model $RUNS/stylegan2-cpu --space wplus --out $RUNS/directions-cpu-wplus"
  [hyperstyle]="train hyperstyle --preset cpu --set inverter=$RUNS/psp-cpu --out $RUNS/hyperstyle-cpu"
  # ASIT / IFER (docs/asit-ifer.md) on the final generator's run ($RUNS/stylegan2-cpu, keeping its discriminator for
  # IID): ASIT at pSp's budget (12k steps of 16, Table 1); Table 4 at an equal 3k-step budget against asit-short;
  # the FER fine-tuning (1k steps on FERPlus train only); IFER, Table 5's rows and pSp+FER (on pSp's 12k-step state,
  # ASIT's budget) at IFER_BUDGET
  [asit]="train asit --preset cpu $ASIT_GEN --out $RUNS/asit-cpu"
  [asit-short]="train asit --preset cpu $ASIT_GEN $ASIT_ABL --out $RUNS/asit-cpu-3k"
  # ... or, cheaper, asit's own first 3k steps (Ranger at a constant rate: the 3k-step state of the 12k run is a 3k
  # run), copied to asit-cpu-3k by the queue (SNAPSHOT below): `--queue asit-first3k asit asit-no-dal ...`
  [asit-first3k]="train asit --preset cpu $ASIT_GEN --max-steps 3000 --out $RUNS/asit-cpu"
  [asit-no-dal]="train asit --preset cpu $ASIT_GEN $ASIT_ABL --set dal_weight=0 --out $RUNS/asit-cpu-3k-no-dal"
  [asit-conv-branch]="train asit --preset cpu $ASIT_GEN $ASIT_ABL --set encoder.branch=conv --out $RUNS/asit-cpu-3k-conv-branch"
  [asit-stylegan2-d]="train asit --preset cpu $ASIT_GEN $ASIT_ABL --set adversary.kind=stylegan2 --out $RUNS/asit-cpu-3k-stylegan2-d"
  [asit-fer]="train asit --preset cpu $ASIT_GEN --set init_from=$RUNS/asit-cpu/final --set sources=[{\"dataset\":\"ferplus\",\"split\":\"train\"}] --set steps=1000 --out $RUNS/asit-cpu-fer"
  [ifer]="train ifer --preset cpu $IFER_BUDGET --set inversion=$RUNS/asit-cpu-fer --out $RUNS/ifer-cpu"
  [ifer-middle-map]="train ifer --preset cpu $IFER_BUDGET --set inversion=$RUNS/asit-cpu-fer --set model.fer_map=middle --out $RUNS/ifer-cpu-middle-map"
  [ifer-latent-only]="train ifer --preset cpu $IFER_BUDGET --set inversion=$RUNS/asit-cpu-fer --set model.fusion=latent --out $RUNS/ifer-cpu-latent-only"
  [ifer-structure-only]="train ifer --preset cpu $IFER_BUDGET --set inversion=$RUNS/asit-cpu-fer --set model.fusion=structure --out $RUNS/ifer-cpu-structure-only"
  [ifer-no-pretraining]="train ifer --preset cpu $IFER_BUDGET --set pretrained=false --out $RUNS/ifer-cpu-no-pretraining"
  [ifer-no-finetune]="train ifer --preset cpu $IFER_BUDGET --set inversion=$RUNS/asit-cpu --out $RUNS/ifer-cpu-no-finetune"
  # the shipped IFER (ifer-gray64): the full model (modulation on the structure code) at 10,000 steps (5x the rows)
  [ifer-long]="train ifer --preset cpu --set steps=10000 --set inversion=$RUNS/asit-cpu-fer --out $RUNS/ifer-cpu-10k"
  [psp-fer]="train ifer --preset cpu $IFER_BUDGET --set encoder=psp --set inversion=$RUNS/psp-cpu-12k --out $RUNS/psp-fer-cpu"
  # ... and pSp's encoder trained from a random initialisation: how much of pSp+FER is its pretraining
  [psp-fer-no-pretraining]="train ifer --preset cpu $IFER_BUDGET --set encoder=psp --set pretrained=false --out $RUNS/psp-fer-cpu-no-pretraining"
)
# In a queue, after the run NAME: copy its last checkpoint from run folder SRC into a new run folder DST.
declare -A SNAPSHOT=(
  [asit-first3k]="$RUNS/asit-cpu $RUNS/asit-cpu-3k"
  [psp]="$RUNS/psp-cpu $RUNS/psp-cpu-12k"
)

snapshot() {  # SRC DST: DST becomes a run folder holding SRC's latest checkpoint (never pruned by SRC's run)
  local src=$1 dst=$2 ckpt
  ckpt=$(cat "$src/latest" 2>/dev/null) && [[ -n "$ckpt" && -d "$src/$ckpt" ]] || { echo "snapshot: $src has no checkpoint" >&2; return 1; }
  mkdir -p "$dst"
  cp -r "$src/$ckpt" "$dst/" && cp "$src/config.yaml" "$dst/" && echo "$ckpt" > "$dst/latest"
}

if [[ "${1:-}" == "--list" || $# -eq 0 ]]; then
  for name in "${!CMD[@]}"; do echo "$name: genfer ${CMD[$name]}"; done | sort
  exit 0
fi
mode=background
case "${1:-}" in
  --queue) mode=queue; shift ;;
  --foreground) mode=foreground; shift ;;  # internal: what --queue runs under nohup
esac
for name in "$@"; do
  [[ -n "${CMD[$name]:-}" ]] || { echo "unknown run $name (see --list)" >&2; exit 2; }
done
case $mode in
  queue)
    nohup "$0" --foreground "$@" > /dev/null 2>&1 &
    echo "queue: pid $! runs $* one after another${AFTER:+ once pid $AFTER has ended}" ;;
  foreground)
    while [[ -n "${AFTER:-}" ]] && kill -0 "$AFTER" 2>/dev/null; do sleep 30; done
    for name in "$@"; do
      # shellcheck disable=SC2086
      .venv/bin/genfer ${CMD[$name]} --threads "$THREADS" --quiet >> "$RUNS/$name.log" 2>&1 &  # stop a queue: kill it first, then its run
      if [[ "${RT:-0}" == 1 ]]; then chrt -r -p 1 $! || true; fi
      wait $! || true
      if [[ -n "${SNAPSHOT[$name]:-}" ]]; then
        # shellcheck disable=SC2086
        snapshot ${SNAPSHOT[$name]} >> "$RUNS/$name.log" 2>&1 || true
      fi
    done ;;
  background)
    for name in "$@"; do
      # shellcheck disable=SC2086
      nohup .venv/bin/genfer ${CMD[$name]} --threads "$THREADS" --quiet >> "$RUNS/$name.log" 2>&1 &
      echo "$name: pid $! -> $RUNS/$name.log"
      # RT=1: round-robin real-time priority 1 for the run's main thread, so that it keeps one core to itself
      # while other work shares the other (nice alone does not hold a core against a dozen busy processes here)
      if [[ "${RT:-0}" == 1 ]]; then chrt -r -p 1 $! || echo "$name: chrt failed (needs root); running at normal priority"; fi
    done ;;
esac

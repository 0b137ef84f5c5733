"""Evaluation: metric protocols (SPEC 5, EVALUATION.md), run evaluation, re-ID.

- `score.score_folders(...)` / `python -m dpig_tf.eval.score`: SSIM, mask-SSIM,
  IS, mask-IS, FID, PSNR, L1 over paired image folders.
- `registry.METRICS`: metric name -> fn(ScoreInputs) -> dict[str, float].
- `evaluate_run.evaluate_run(...)`: generate the test pairs of a run and score them.
- `reid`: ResNet-50 re-ID baseline and the Market-1501 rank-1/mAP evaluator.
"""

"""What the three trainers share: the run folder and its logs (``run``), checkpoints and
exact resume (``state``), the step loop (``loop``), the session that ties them together
(``session``), the sample stream (``sampler``), sample images (``sample_grids``), mixed
precision (``precision``), data parallelism (``parallel``) and the alternating
generator / discriminator update (``adversarial``)."""

"""qrobust-lite: the library of the course *Quantum machine-learning robustness, step by step*.

One module per idea the book teaches, in the book's order; each module's docstring names the
chapter that teaches it, and the book's *API reference* follows the same map.

- What every Part uses: :mod:`~qrobust_lite.data` (real datasets, offline by default),
  :mod:`~qrobust_lite.scales` (how big each chapter's run is), :mod:`~qrobust_lite.preprocessing`,
  :mod:`~qrobust_lite.backend` (where circuits and networks run, and why),
  :mod:`~qrobust_lite.circuits` (every circuit block, and the VQC), :mod:`~qrobust_lite.tracing`
  (a block read once into layers), :mod:`~qrobust_lite.fastpath` (the same circuits as a few
  large torch operations), :mod:`~qrobust_lite.kron_chain` (a block's unitary as a chain of
  Kronecker layers, and the Born rule after it, with their gradient written out), :mod:`~qrobust_lite.training` (the one
  training loop), :mod:`~qrobust_lite.metrics` (scores, ``f(y_true, y_pred)``),
  :mod:`~qrobust_lite.experiments` (grids of runs, cached and in parallel),
  :mod:`~qrobust_lite.progress` (the progress bars of long cells),
  :mod:`~qrobust_lite.validation` (the argument checks every public function uses).
- Part I, quantum probabilistic label refining: :mod:`~qrobust_lite.soft_labels`,
  :mod:`~qrobust_lite.calibration`, :mod:`~qrobust_lite.corruptions`, :mod:`~qrobust_lite.cnn`,
  :mod:`~qrobust_lite.label_refining` (the course's reconstruction),
  :mod:`~qrobust_lite.hybrid_labeler` and :mod:`~qrobust_lite.paper_methods` (the paper as published).
- Part II, quantum patches against adversarial attacks: :mod:`~qrobust_lite.quantum_classifier`,
  :mod:`~qrobust_lite.attacks`, :mod:`~qrobust_lite.quantum_patches`, :mod:`~qrobust_lite.defences`.
- Part III, poisoning and unlearning: :mod:`~qrobust_lite.spin_chain`,
  :mod:`~qrobust_lite.networks`, :mod:`~qrobust_lite.poisoning`, :mod:`~qrobust_lite.unlearning`.
- Course machinery, not taught: :mod:`~qrobust_lite.exercises` (checkers and grading),
  :mod:`~qrobust_lite.course.cli` (the ``qrobust-lite`` command: ``doctor``, ``run``, ``grade``),
  :mod:`~qrobust_lite.course.performance` (the *Performance* appendix's measurements),
  :mod:`~qrobust_lite.course.paper_scale` (the verdicts of *Results at the papers' scale*),
  :mod:`~qrobust_lite.course.sliders` (sliders in a notebook, frames in the built book),
  :mod:`~qrobust_lite.course.tables` (tables and text that fit the page).
"""

__version__ = "0.1.0"

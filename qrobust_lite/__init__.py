"""qrobust-lite: the library of the course *Quantum machine-learning robustness, step by step*.

One module per idea the book teaches, in the book's order:

- :mod:`~qrobust_lite.data`: real datasets, offline by default (bundled subsets);
- :mod:`~qrobust_lite.scales`: how big a chapter's run is (smoke, default, full);
- :mod:`~qrobust_lite.preprocessing`: images to rotation angles or amplitudes;
- :mod:`~qrobust_lite.backend`: where circuits and networks run (PennyLane and torch device), and why;
- :mod:`~qrobust_lite.circuits`: encodings, ansatz, Born-rule class probabilities, batched;
- :mod:`~qrobust_lite.fastpath`: the same circuits simulated with a few large torch operations;
- :mod:`~qrobust_lite.exercises`: checkers that give learners feedback;
- Part I: :mod:`~qrobust_lite.soft_labels`, :mod:`~qrobust_lite.calibration`,
  :mod:`~qrobust_lite.corruptions`, :mod:`~qrobust_lite.models`, :mod:`~qrobust_lite.training`,
  :mod:`~qrobust_lite.label_refining`;
- Part II: :mod:`~qrobust_lite.attacks`, :mod:`~qrobust_lite.quantum_patches`,
  :mod:`~qrobust_lite.defences`;
- Part III: :mod:`~qrobust_lite.spin_chain`, :mod:`~qrobust_lite.poisoning`,
  :mod:`~qrobust_lite.unlearning`;
- appendix: :mod:`~qrobust_lite.performance` (speed measurements);
- :mod:`~qrobust_lite.cli`: the ``qrobust-lite`` command (``doctor``, ``run``, ``grade``).
"""

__version__ = "0.1.0"

"""qrobust-lite: the library of the course *Quantum machine-learning robustness, step by step*.

One module per idea the book teaches:

- :mod:`qrobust_lite.data`: real datasets, offline by default (bundled subsets);
- :mod:`qrobust_lite.preprocessing`: images to rotation angles or amplitudes;
- :mod:`qrobust_lite.backend`: which PennyLane device runs the circuits, and why;
- :mod:`qrobust_lite.circuits`: encodings, ansatz, Born-rule class probabilities, batched;
- :mod:`qrobust_lite.exercises`: checkers that give learners feedback.
"""

__version__ = "0.1.0"

"""Course machinery, apart from what the book teaches: the ``qrobust-lite`` command
(:mod:`~qrobust_lite.course.cli`: ``doctor``, ``run``, ``grade``) and the side-by-side speed
measurements of the *Performance* appendix (:mod:`~qrobust_lite.course.performance`)."""

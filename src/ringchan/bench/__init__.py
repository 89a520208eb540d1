"""ringchan's benchmark harness, behind ``python -m ringchan bench``.

It ships in the wheel so that a user can measure ringchan on their own
machine without a checkout; ``import ringchan`` never loads it.  The
workloads are in :mod:`.workloads`, the channels they drive in
:mod:`.subjects`, the measuring in :mod:`.suite` and the command line in
:mod:`.cli`; ``benchmarks/compare.py`` in the repository adds ringchan's
peers and writes the committed report.
"""

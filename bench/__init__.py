"""twimbot's benchmarks (SPEC §10): ``python -m bench`` runs them all and writes RESULTS.md.

Modules: :mod:`bench.live` (acknowledgement latency against a bare matrix-nio reactor, the
500-submission burst, the bot's CPU and peak RSS, all on one fresh Synapse),
:mod:`bench.reactor` (that bare nio client, run as its own process), :mod:`bench.drafts`
(``draft`` time against databases with 10k to 1M archived entries), :mod:`bench.machine`
(what the numbers were measured on) and :mod:`bench.report` (RESULTS.md).
``bench/classify_accuracy.py`` is a separate script (classification accuracy, not speed).
"""

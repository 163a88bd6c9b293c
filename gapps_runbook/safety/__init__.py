"""The secret-safety layer, on the standard library and the error tree: what keeps secrets out of artifacts.

``redact`` (messages and logs; the one list of Google's secret shapes), ``params`` (refuse secret
notebook parameters), ``scrub`` (executed notebooks), ``leakscan`` (the canary scanner that proves it),
``atomic`` (the one atomic file writer, so a crash never leaves a half-written file).
"""

"""The secret-safety layer, on the standard library only: what keeps secrets out of every artifact.

``redact`` (messages and logs; the one list of Google's secret shapes), ``params`` (refuse secret
notebook parameters), ``scrub`` (executed notebooks), ``leakscan`` (the canary scanner that proves it).
"""

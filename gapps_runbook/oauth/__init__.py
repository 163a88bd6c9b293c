"""The protocol layer: OAuth 2.0 as the RFCs and Google's dialect speak it, sans I/O but for one seam.

Every module follows one spec: ``device_flow``/``device_poller`` RFC 8628, ``loopback`` RFC 8252 + RFC
7636, ``tokens`` RFC 6749 §5-6, ``revocation`` RFC 7009, ``tokeninfo`` Google's tokeninfo and RFC 7662,
``userinfo`` OIDC Core §5.3, ``endpoints`` RFC 8414 / OIDC discovery, ``client_auth`` RFC 6749 §2.3.1.
All HTTP goes through ``transport.Transport``; all time through ``clock.Clock``. Depends only on
:mod:`gapps_runbook.errors` and :mod:`gapps_runbook.safety`.
"""

"""Test harness: a real, throwaway step-ca 0.19 with a PKI made in Python.

Modules: ``stepca`` (find/start/stop the CA, ``StepCA``; also the
``python -m tests.harness.stepca up|down`` command), ``client`` (root-pinned
HTTP helpers), ``pki`` (root, intermediate, SSH CA keys), ``provisioners``
(default provisioners and the ``extras`` discovery).
"""

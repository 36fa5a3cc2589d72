"""Extra provisioners for the session CA, one module per kind.

A module here (not starting with ``_``) that defines::

    def provisioners(workdir: pathlib.Path, pki: tests.harness.pki.Pki) -> list[dict]:

gets its provisioners added to the session step-ca's ca.json (modules run in
name order, before the CA starts). Write any files the provisioner needs
(roots, keys) under ``workdir``.
"""

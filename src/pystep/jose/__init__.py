"""A thin JOSE layer over `cryptography`: compact JWS over any Signer, PBES2 JWE
decryption, JWK import/export and RFC 7638 thumbprints. It knows nothing of step."""

import ssl

from edgebuild.flows.release import tls


def test_certificates_are_created_once_and_chain_to_the_ca(tmp_path):
    folder = tls.ensure(tmp_path)
    node = (folder / tls.NODE).read_bytes()
    assert tls.ensure(tmp_path) == folder and (folder / tls.NODE).read_bytes() == node  # the pin is kept
    assert (folder / tls.NODE).stat().st_mode & 0o077 == 0  # the key is private
    ctx = ssl.create_default_context(cafile=str(folder / tls.CA))
    ctx.load_cert_chain(str(folder / tls.NODE))  # cert and key belong together
    sec = tls.security(folder)
    assert sec.require_encryption and sec.tls_ca_file == str(folder / tls.CA)

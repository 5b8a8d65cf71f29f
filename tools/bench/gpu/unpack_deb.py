#!/usr/bin/env python3
"""Unpacks a Debian package's files into a folder, for machines without dpkg-deb (run.sh uses it):
    python3 unpack_deb.py PACKAGE.deb DEST
A .deb is an `ar` archive whose data.tar.{xz,gz,zst} member holds the files."""
import io
import sys
import tarfile


def members(data):
    assert data[:8] == b"!<arch>\n", "not an ar archive"
    i = 8
    while i + 60 <= len(data):
        name = data[i:i + 16].decode().strip().rstrip("/")
        size = int(data[i + 48:i + 58].decode().strip())
        yield name, data[i + 60:i + 60 + size]
        i += 60 + size + (size & 1)


def main(deb, dest):
    with open(deb, "rb") as f:
        data = f.read()
    for name, body in members(data):
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                sys.exit(f"{deb}: {name} needs zstd; install dpkg-deb or zstd")
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as t:
                t.extractall(dest)
            return
    sys.exit(f"{deb}: no data.tar member")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

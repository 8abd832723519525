# Runs on the device (stdin to its Python): verify what was uploaded, then make it live atomically.
# Standard library only. Prints one JSON object; exit status 3 when a check fails (nothing changed).
#   python - runtime WORK ID [FOLDER]    verify FOLDER/.upload-ID.tar.gz, unpack, switch current.json
#                                         (FOLDER: runtime, or runtime-onnxruntime for the baseline)
#   python - bundle WORK NAME STAGING MANIFEST_SHA256 FILE...
#                                         inflate STAGING's FILE.z uploads, verify its files against
#                                         its manifest, then swap the
#                                         bundles/NAME symlink to them (the old deploy stays until then)
#   python - clean WORK                   remove stale staging folders and uploads of killed runs
#                                         (the caller holds the device lock)
#   python - remove WORK NAME             remove the deployed bundle NAME (its symlink and version folder)
#   python - verify WORK VERSION MANIFEST_SHA256 FILE...
#                                         check a deployed version's files against its manifest
# Names from the host are checked here too: only ever paths under WORK/bundles and WORK/runtime
# are written or removed, whatever a manifest or a planted symlink says.
import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import zlib

NAME = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,400}$")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fail(message):
    print(json.dumps({"ok": False, "error": message}))
    sys.exit(3)


def replace_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def runtime(work, rid, kind="runtime"):
    plain(rid, "runtime id")
    if kind not in ("runtime", "runtime-onnxruntime"):
        fail("unknown runtime folder %r" % kind)
    folder = os.path.join(work, kind)
    archive = os.path.join(folder, ".upload-%s.tar.gz" % rid)
    got = sha256(archive)
    if got != rid:
        os.unlink(archive)
        fail("runtime archive sha256 %s != expected %s (upload corrupted); removed it" % (got, rid))
    partial = os.path.join(folder, ".partial-" + rid)
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name.startswith("/") or ".." in member.name.split("/"):
                fail("runtime archive holds an unsafe path: %s" % member.name)
            if not (member.isreg() or member.isdir()):
                os.unlink(archive)
                fail("runtime archive member %s is a link or device: only regular files and folders are "
                     "allowed; removed it" % member.name)
        tar.extractall(partial)
    final = os.path.join(folder, rid)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(partial, final)
    replace_json(os.path.join(folder, "current.json"), {"id": rid, "site": os.path.join(final, "site")})
    os.unlink(archive)
    for name in os.listdir(folder):  # older runtimes and leftovers
        if name not in (rid, "current.json") and not name.startswith(".upload-"):
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
    print(json.dumps({"ok": True, "runtime": final}))


def inflate(source, path, file):
    """NAME.z (zlib, as deploys send payload files) -> NAME, in chunks: a Pi has little memory."""
    inflater = zlib.decompressobj()
    try:
        with open(source, "rb") as src, open(path, "wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                out.write(inflater.decompress(chunk))
            out.write(inflater.flush())
    except zlib.error as exc:
        raise ValueError("%s: corrupt compressed upload (%s)" % (file, exc))
    if not inflater.eof:
        raise ValueError("%s: compressed upload is truncated" % file)
    os.remove(source)


def plain(name, what, prefix=""):
    """`name` is one plain path component (with `prefix`), never a way out of its folder."""
    if not (name.startswith(prefix) and NAME.match(name[len(prefix):] or "") and ".." not in name):
        fail("%s %r is not a plain name (letters, digits, '_', '+', '-', '.'); nothing changed" % (what, name))
    return name


def inside(folder, path):
    """`path` resolves to an entry directly in `folder` (no symlink leads out)."""
    return os.path.dirname(os.path.realpath(path)) == os.path.realpath(folder)


def bundle(work, name, staging, manifest_sha, files):
    plain(name, "bundle name")
    plain(staging, "staging folder", ".tmp-")
    for file in files:
        plain(file, "file name")
    folder = os.path.join(work, "bundles")
    staging = os.path.join(folder, staging)
    manifest_path = os.path.join(staging, "manifest.json")
    try:
        if sha256(manifest_path) != manifest_sha:
            raise ValueError("manifest.json sha256 differs from the host's")
        with open(manifest_path) as f:
            listed = json.load(f)["files"]
        for file in files:
            path = os.path.join(staging, file)
            if os.path.exists(path + ".z"):
                inflate(path + ".z", path, file)
            entry = listed[file]
            got = sha256(path)
            if got != entry["sha256"] or os.path.getsize(path) != entry["bytes"]:
                raise ValueError("%s sha256 %s != manifest %s" % (file, got[:16], entry["sha256"][:16]))
    except (OSError, ValueError, KeyError, zlib.error) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        fail("verification failed, nothing deployed: %s" % exc)
    version = os.path.join(folder, ".v-%s-%s" % (manifest_sha[:12], os.path.basename(staging)[5:]))
    os.rename(staging, version)
    link = os.path.join(folder, name)
    previous = os.path.realpath(link) if os.path.islink(link) else None
    if previous and not (inside(folder, previous) and os.path.basename(previous).startswith(".v-")):
        previous = None  # not one of our versions (planted): replace the link, remove nothing
    tmp_link = os.path.join(folder, ".link-%s" % os.path.basename(version))
    os.symlink(os.path.basename(version), tmp_link)
    os.replace(tmp_link, link)  # the atomic step: readers see the old or the new bundle, never a mix
    if previous and previous != os.path.realpath(link):
        shutil.rmtree(previous, ignore_errors=True)
    print(json.dumps({"ok": True, "bundle": link, "version": version}))


def clean(work):
    removed = []
    folder = os.path.join(work, "bundles")
    live = set()
    if os.path.isdir(folder):
        live = {os.path.realpath(os.path.join(folder, n)) for n in os.listdir(folder)
                if os.path.islink(os.path.join(folder, n))}
        for n in os.listdir(folder):
            path = os.path.join(folder, n)
            stale = n.startswith((".tmp-", ".link-")) or (n.startswith(".v-") and os.path.realpath(path) not in live)
            if stale:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
                removed.append(n)
    for kind in ("runtime", "runtime-onnxruntime"):
        clean_runtime(os.path.join(work, kind), kind, removed)
    print(json.dumps({"ok": True, "removed": removed}))


def clean_runtime(rt, kind, removed):
    if os.path.isdir(rt):
        for n in os.listdir(rt):
            if n.startswith(".partial-"):
                shutil.rmtree(os.path.join(rt, n), ignore_errors=True)
                removed.append(kind + "/" + n)
            elif n.startswith(".upload-"):  # an interrupted provisioning (we hold the lock)
                os.unlink(os.path.join(rt, n))
                removed.append(kind + "/" + n)


def verify(work, version, manifest_sha, files):
    folder = os.path.join(work, "bundles", plain(version, "version folder", ".v-"))
    try:
        manifest = os.path.join(folder, "manifest.json")
        if not inside(os.path.join(work, "bundles"), folder) or sha256(manifest) != manifest_sha:
            raise ValueError("manifest.json differs")
        with open(os.path.join(folder, "manifest.json")) as f:
            listed = json.load(f)["files"]
        for file in files:
            if sha256(os.path.join(folder, plain(file, "file name"))) != listed[file]["sha256"]:
                raise ValueError("%s differs from its manifest" % file)
    except (OSError, ValueError, KeyError) as exc:
        fail("deployed copy %s is not intact: %s" % (version, exc))
    print(json.dumps({"ok": True}))


def remove(work, name):
    folder = os.path.join(work, "bundles")
    # One plain name (model--recipe--target), never a path: nothing outside bundles/ is touched.
    if not name or name.startswith(".") or "/" in name or "\0" in name or ".." in name:
        fail("bundle name %r is not a plain name; nothing removed" % name)
    link = os.path.join(folder, name)
    if not os.path.islink(link):
        print(json.dumps({"ok": True, "removed": []}))
        return
    version = os.path.realpath(link)
    os.unlink(link)
    removed = [name]
    ours = os.path.dirname(version) == os.path.realpath(folder) and os.path.basename(version).startswith(".v-")
    if ours and os.path.isdir(version):  # a link planted elsewhere loses only the link
        shutil.rmtree(version, ignore_errors=True)
        removed.append(os.path.basename(version))
    print(json.dumps({"ok": True, "removed": removed}))


def main(argv):
    work = os.path.expanduser(argv[2])
    for sub in ("bundles", "runtime", "runtime-onnxruntime"):
        os.makedirs(os.path.join(work, sub), exist_ok=True)
    if argv[1] == "runtime":
        runtime(work, *argv[3:5])
    elif argv[1] == "bundle":
        bundle(work, argv[3], argv[4], argv[5], argv[6:])
    elif argv[1] == "clean":
        clean(work)
    elif argv[1] == "verify":
        verify(work, argv[3], argv[4], argv[5:])
    elif argv[1] == "remove":
        remove(work, argv[3])
    else:
        fail("unknown command %r" % argv[1])


main(sys.argv)

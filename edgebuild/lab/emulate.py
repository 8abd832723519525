"""`invoke lab.emulate`: device rpi4-emu, an emulated Raspberry Pi 4 reachable over real SSH.

An arm64 Debian Python userland (Debian's own packages, unpacked with `dpkg -x`) runs under
qemu-user with `-cpu cortex-a72`, so code a Pi 4 cannot run (dot-product, fp16) faults here too.
A real OpenSSH sshd with its own config, host key and client key listens on 127.0.0.1 at a free
port. The device is registered in devices/local.toml and its host key pinned in
devices/known_hosts.local. Everything else lives in build/.cache/emu/NAME/. Idempotent.
Note `uname -m` on this device still says x86_64; ask its Python (`platform.machine()`).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko

from ..errors import DeviceError
from ..project import Project
from . import inventory, trust
from .inventory import Device

NAME, TARGET, CPU = "rpi4-emu", "rpi4", "cortex-a72"
PYTHON = "python3.11"
# Debian bookworm arm64 packages: python3.11 and the libraries its stdlib modules load.
PACKAGES = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libc6", "zlib1g",
            "libexpat1", "libffi8", "libssl3", "libstdc++6", "libgcc-s1", "libbz2-1.0", "liblzma5",
            "libsqlite3-0", "libncursesw6", "libtinfo6", "libuuid1", "libcrypt1")
INSTALL_HINT = "install them with: apt-get install -y qemu-user openssh-server"


@dataclass(frozen=True)
class Emulator:
    """Where one emulated device keeps its files."""

    home: Path

    @classmethod
    def of(cls, project: Project, name: str = NAME) -> "Emulator":
        return cls(project.cache_dir / "emu" / name)

    root = property(lambda self: self.home / "root")
    debs = property(lambda self: self.home.parent / "debs")
    python = property(lambda self: self.home / "python")
    ssh = property(lambda self: self.home / "ssh")
    work = property(lambda self: self.home / "work")
    host_key = property(lambda self: self.ssh / "host_ed25519_key")
    client_key = property(lambda self: self.ssh / "client_ed25519_key")
    config = property(lambda self: self.ssh / "sshd_config")
    pidfile = property(lambda self: self.ssh / "sshd.pid")
    log = property(lambda self: self.ssh / "sshd.log")


def tools() -> dict[str, str]:
    """Paths of qemu-aarch64, sshd and ssh-keygen; DeviceError naming the apt packages if absent."""
    found = {"qemu-aarch64": shutil.which("qemu-aarch64"),
             "sshd": shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None),
             "ssh-keygen": shutil.which("ssh-keygen")}
    missing = [k for k, v in found.items() if not v]
    if missing:
        raise DeviceError(f"the emulated device needs {', '.join(missing)}; {INSTALL_HINT}")
    return found


def start(project: Project, name: str = NAME, say=print) -> Device:
    """Create (first time) and start the emulated device; a running one is left as it is."""
    paths = tools()
    emu = Emulator.of(project, name)
    began = time.monotonic()
    _userland(emu, say)
    _wrapper(emu, paths["qemu-aarch64"])
    _keys(emu, paths["ssh-keygen"])
    previous = inventory.load(project).devices.get(name)
    pid = running_pid(emu)
    if pid:
        port = _config_port(emu)
        say(f"{name}: sshd already running (pid {pid}) on 127.0.0.1:{port}")
    else:
        port = previous.port if previous and _free(previous.port) else _free_port()
        _start_sshd(emu, paths["sshd"], port)
        say(f"{name}: sshd started (pid {running_pid(emu)}) on 127.0.0.1:{port} "
            f"in {time.monotonic() - began:.1f} s")
    device = Device(target=TARGET, host="127.0.0.1", port=port, user=getpass.getuser(),
                    key_file=str(emu.client_key), python=[str(emu.python)], work_dir=str(emu.work),
                    tags=["emulated", "rpi4"], emulated=True, name=name,
                    description=f"emulated Raspberry Pi 4: Debian arm64 {PYTHON} under qemu-aarch64 -cpu {CPU}")
    path = inventory.write_local(project, device)
    device = inventory.load(project).get(name)
    key = _host_public_key(emu)
    trust.trust(inventory.load(project), device, replace=True, key=key)
    say(f"{name}: registered in {path}; host key {trust.fingerprint(key)} pinned")
    return device


def stop(project: Project, name: str = NAME, say=print) -> bool:
    """Stop the device's sshd (its files and registration stay). False when it was not running."""
    emu = Emulator.of(project, name)
    pid = running_pid(emu)
    if not pid:
        say(f"{name}: not running")
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.05)
    emu.pidfile.unlink(missing_ok=True)
    say(f"{name}: sshd (pid {pid}) stopped")
    return True


def running_pid(emu: Emulator) -> int | None:
    """The pid of this device's sshd when it is running (checked against its command line)."""
    try:
        pid = int(emu.pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if str(emu.config) in cmdline else None


def _userland(emu: Emulator, say) -> None:
    done = emu.root / ".complete"
    if done.is_file():
        return
    say(f"unpacking Debian arm64 {PYTHON} into {emu.root} (first time only)")
    emu.debs.mkdir(parents=True, exist_ok=True)
    _apt_download(emu.debs)
    tmp = emu.root.with_name("root.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for deb in sorted(emu.debs.glob("*_arm64.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(tmp)], check=True)
    (tmp / ".complete").write_text("\n".join(PACKAGES) + "\n")
    shutil.rmtree(emu.root, ignore_errors=True)
    tmp.replace(emu.root)


def _apt_download(folder: Path) -> None:
    wanted = [f"{p}:arm64" for p in PACKAGES]
    have = {p.name.split("_")[0] for p in folder.glob("*_arm64.deb")}
    wanted = [w for w in wanted if w.split(":")[0] not in have]
    if not wanted:
        return
    archs = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True).stdout.split()
    if "arm64" not in archs:
        _root_step(["dpkg", "--add-architecture", "arm64"])
        _root_step(["apt-get", "update", "-q"])
    result = subprocess.run(["apt-get", "download", *wanted], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:  # stale package lists: refresh once and retry
        _root_step(["apt-get", "update", "-q"])
        result = subprocess.run(["apt-get", "download", *wanted], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeviceError(f"apt-get download of the arm64 packages failed: {result.stderr.strip()[-600:]}; "
                          f"check that Debian's package mirrors are reachable")


def _root_step(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeviceError(f"`{' '.join(argv)}` failed ({result.stderr.strip()[-300:]}); run it as root once, "
                          f"then `invoke lab.emulate` again")


# qemu-user (7.2) shows the emulating host's x86 /proc/cpuinfo, and ONNX Runtime's aarch64 wheel
# crashes parsing it (SIGSEGV at import). Where a private mount namespace is allowed, the device's
# Python sees a Cortex-A72's cpuinfo instead (ARM's part number 0xd08), its model line saying what
# it is; elsewhere it runs as before.
CPUINFO = ("processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n"
           "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n")


def _wrapper(emu: Emulator, qemu: str) -> None:
    cpuinfo = emu.home / "cpuinfo"
    text = "".join(CPUINFO.format(i=i) for i in range(os.cpu_count() or 1))
    cpuinfo.write_text(text + f"Model\t: emulated Cortex-A72 (qemu-aarch64 -cpu {CPU})\n")
    run = f"{qemu} -cpu {CPU} -L {emu.root} {emu.root}/usr/bin/{PYTHON}"
    text = (f"#!/bin/sh\n# {NAME}'s python3: Debian arm64 {PYTHON} under qemu-user as a Cortex-A72.\n"
            f"if unshare -m true 2>/dev/null; then\n"
            f"  exec unshare -m sh -c 'mount --bind \"$0\" /proc/cpuinfo 2>/dev/null; exec \"$@\"' "
            f"{cpuinfo} {run} \"$@\"\nfi\n"
            f"exec {run} \"$@\"\n")
    if not emu.python.is_file() or emu.python.read_text() != text:
        emu.python.write_text(text)
        emu.python.chmod(0o755)
    emu.work.mkdir(parents=True, exist_ok=True)


def _keys(emu: Emulator, keygen: str) -> None:
    emu.ssh.mkdir(parents=True, exist_ok=True)
    os.chmod(emu.ssh, 0o700)
    for key in (emu.host_key, emu.client_key):
        if not key.is_file():
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", f"edgebuild {key.name}",
                            "-f", str(key)], check=True)
    (emu.ssh / "authorized_keys").write_text(emu.client_key.with_name(emu.client_key.name + ".pub").read_text())


def _host_public_key(emu: Emulator) -> paramiko.PKey:
    return paramiko.PKey.from_path(emu.host_key)


def _start_sshd(emu: Emulator, sshd: str, port: int) -> None:
    emu.config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {emu.host_key}", f"PidFile {emu.pidfile}",
        f"AuthorizedKeysFile {emu.ssh / 'authorized_keys'}", "UsePAM no", "StrictModes no",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password", f"AllowUsers {getpass.getuser()}",
        "Subsystem sftp internal-sftp", "MaxStartups 32", "MaxSessions 32", "LogLevel VERBOSE", "",
    ]))
    try:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    except OSError as exc:
        raise DeviceError(f"sshd needs /run/sshd: {exc}; create it as root (mkdir -m 755 /run/sshd)") from None
    check = subprocess.run([sshd, "-t", "-f", str(emu.config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise DeviceError(f"{emu.config}: sshd rejects the config: {check.stderr.strip()}")
    emu.pidfile.unlink(missing_ok=True)
    subprocess.run([sshd, "-f", str(emu.config), "-E", str(emu.log)], check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if running_pid(emu) and not _free(port):
            return
        time.sleep(0.05)
    raise DeviceError(f"sshd did not start on 127.0.0.1:{port}; see {emu.log}")


def _config_port(emu: Emulator) -> int:
    for line in emu.config.read_text().splitlines():
        if line.startswith("Port "):
            return int(line.split()[1])
    raise DeviceError(f"{emu.config}: no Port line; run `invoke lab.emulate --stop` and start again")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

import struct

from edgebuild.lab import emulate, remote
from edgebuild.lab.status import status
from edgebuild.lab.transport import connect

# AT_HWCAP bits on aarch64 (Linux uapi hwcap.h): what a Pi 4's Cortex-A72 lacks.
AT_HWCAP, HWCAP_FPHP, HWCAP_ASIMDHP, HWCAP_ASIMDDP = 16, 1 << 9, 1 << 10, 1 << 20
HWCAP_SCRIPT = """
import struct
data = open('/proc/self/auxv', 'rb').read()
pairs = struct.iter_unpack('<QQ', data)
print(dict(pairs).get(16, 0))
"""

# Calls one aarch64 instruction from a Python process: `sdot` (ARMv8.2 dot product, which a Pi 4's
# Cortex-A72 lacks) or just `ret`.
INSTRUCTION_SCRIPT = """
import ctypes, mmap, struct, sys
words = {"sdot": [0x4E829420, 0xD65F03C0], "ret": [0xD65F03C0]}[sys.argv[1]]  # sdot v0.4s, v1.16b, v2.16b
buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(struct.pack("<%dI" % len(words), *words))
ctypes.CFUNCTYPE(None)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))()
print("ran")
"""


def test_emulate_is_idempotent(lab):
    said = []
    again = emulate.start(lab.project, say=said.append)
    assert again.port == lab.device.port and "already running" in said[0]
    assert lab.inventory.get("rpi4-emu").emulated


def test_device_python_is_aarch64_while_uname_lies(lab):
    with connect(lab.inventory, lab.device) as conn:
        probe = remote.probe(conn)
        assert probe.machine == "aarch64" and probe.python[:2] == (3, 11)
        assert conn.run("uname -m").stdout.strip() == "x86_64"  # why the lab asks the device's Python
        hwcap = int(conn.python(HWCAP_SCRIPT).stdout)
    # -cpu cortex-a72: no dot-product and no fp16 arithmetic, as on a real Pi 4
    assert hwcap and not hwcap & (HWCAP_ASIMDDP | HWCAP_FPHP | HWCAP_ASIMDHP)


def test_status_reports_the_runtime(lab):
    (st,) = status(lab.project, "rpi4-emu")
    assert st.reachable and st.probe.runtime["present"]
    assert "aarch64 Python 3.11" in st.line() and "tvm 0.27" in st.line() and "[emulated]" in st.line()


def test_instructions_a_pi4_lacks_fault_as_on_the_board(lab):
    with connect(lab.inventory, lab.device) as conn:
        assert conn.python(INSTRUCTION_SCRIPT, ["ret"]).stdout.strip() == "ran"
        faulted = conn.python(INSTRUCTION_SCRIPT, ["sdot"], check=False)
    # SIGILL, as on a real Pi 4 (sshd reports a signal death without an exit status: paramiko says -1)
    assert faulted.status in (-1, 128 + 4) and "Illegal instruction" in faulted.stderr and "ran" not in faulted.stdout

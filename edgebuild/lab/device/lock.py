# edgebuild's device lock: an flock held while this process lives, plus a lease the host renews.
# Standard library only. Run as `python -c SOURCE WORK TOKEN OWNER ACTION LEASE_S`; its stdin is
# the holder's lifeline. Prints one line, "locked {...}" or "busy {...}", then reads stdin lines:
#   renew       the holder is alive: the lease runs LEASE_S seconds from now
#   job PGID    a job started under the lock runs in process group PGID
# At EOF (the holder closed the channel, or its connection ended) it kills the recorded jobs and
# releases the lock. A lock whose lease was not renewed in time (the holder is behind a dead or
# frozen link) is taken over: its locker process and recorded jobs are killed first. A process is
# only killed when its command line or environment carries the holder's token (no pid reuse).
import fcntl
import json
import os
import signal
import sys
import time

work, token, owner, action, lease = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
LOCK, LEASE = os.path.join(work, ".deploy.lock"), os.path.join(work, ".lease.json")
now = time.monotonic  # CLOCK_MONOTONIC: one clock for every process, immune to clock changes


def read_lease():
    try:
        with open(LEASE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_lease(state):
    tmp = LEASE + ".tmp-" + token
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, LEASE)


def carries(pid, tok):
    for part in ("cmdline", "environ"):
        try:
            with open("/proc/%d/%s" % (pid, part), "rb") as f:
                if tok.encode() in f.read():
                    return True
        except OSError:
            pass
    return False


def group_members(pgid):
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid:
                found.append(int(name))
    return found


def kill_jobs(state):
    killed = []
    for pgid in state.get("jobs", []):
        members = group_members(pgid) if pgid > 1 else []
        if any(carries(pid, state["token"]) for pid in members):
            try:
                os.killpg(pgid, signal.SIGKILL)
                killed.append(pgid)
            except OSError:
                pass
    return killed


def public(state):
    age = now() - state["renewed"]
    return {"owner": state["owner"], "action": state["action"], "started_s_ago": round(now() - state["started"], 1),
            "renewed_s_ago": round(age, 1), "lease_s": state["lease"], "expires_in_s": round(state["lease"] - age, 1)}


def busy(info):
    print("busy " + json.dumps(info), flush=True)
    sys.exit(75)


def take(f):
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


os.makedirs(work, exist_ok=True)
handle = open(LOCK, "a")
previous = read_lease()
note = {}
if not take(handle):
    if previous is None or now() - previous["renewed"] <= previous["lease"]:
        busy(public(previous) if previous else {"owner": "unknown", "action": "unknown"})
    # The holder stopped renewing: its link is dead. End its locker and its jobs, then take over.
    if previous.get("pid", 0) > 1 and carries(previous["pid"], previous["token"]):
        try:
            os.kill(previous["pid"], signal.SIGKILL)
        except OSError:
            pass
    note = {"took_over": public(previous), "killed_groups": kill_jobs(previous)}
    deadline = now() + 10
    while not take(handle):
        if now() > deadline:
            busy(public(previous))
        time.sleep(0.05)
elif previous is not None:  # its locker died without cleaning up: its jobs are orphans
    note = {"orphans_of": public(previous), "killed_groups": kill_jobs(previous)}
state = {"token": token, "owner": owner, "action": action, "pid": os.getpid(), "lease": lease,
         "started": now(), "renewed": now(), "jobs": []}
write_lease(state)
print("locked " + json.dumps(note), flush=True)
for line in sys.stdin:
    words = line.split()
    if words == ["renew"]:
        state["renewed"] = now()
    elif len(words) == 2 and words[0] == "job" and words[1].isdigit() and int(words[1]) > 1:
        state["jobs"].append(int(words[1]))
    write_lease(state)
kill_jobs(state)
current = read_lease()
if current and current.get("token") == token:
    os.unlink(LEASE)

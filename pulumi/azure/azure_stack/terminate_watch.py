"""Runs on every instance (python3 of the image, standard library only): waits for a Terminate scheduled
event for this VM, takes the service out of the Application Gateway (SIGUSR1 fails its health path while
it keeps serving), waits until the gateway's probes have noticed, checks that the event still stands, stops
the service (SIGTERM, then its shutdown grace drains in-flight requests), and approves the event so the
platform deletes the VM at once instead of waiting out the notice. Stopping at once would close the
listener while the gateway still sends new requests here (502s); its connection draining only starts once
the instance leaves the pool.

Scale-in, automatic repair and surge upgrades announce deletions this way once the scale set's
terminateNotificationProfile is on ("Azure Metadata Service: Scheduled Events for Linux VMs"). Events for
every VM of the scale set's placement group reach every VM, so only events naming this VM count.
A cancelled event disappears from the list (same page): one gone by the end of the wait restarts the
service, which starts not leaving, and the watch goes on. A deletion cancelled after the service stopped
is repaired: the health extension reports the instance unhealthy and automatic repair replaces it.
Host maintenance that reboots this VM (Reboot, Redeploy) also takes the service out of the gateway first,
then approves; the reboot stops the service. Freeze (a pause of seconds) is ignored.
METADATA_URL, LEAVE_COMMAND, LEAVE_SECONDS, RESTART_COMMAND, STOP_COMMAND and POLL_SECONDS exist so the
tests can run this against a fake endpoint, quickly. LEAVE_SECONDS defaults to the gateway's detection
time, rendered in by azure_stack/boot.py.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

METADATA = os.environ.get("METADATA_URL", "http://169.254.169.254/metadata")
EVENTS = f"{METADATA}/scheduledevents?api-version=2020-07-01"
VM_NAME = f"{METADATA}/instance/compute/name?api-version=2021-02-01&format=text"
LEAVE = os.environ.get("LEAVE_COMMAND", "systemctl kill --signal=SIGUSR1 sample-service.service").split()
LEAVE_SECONDS = float(os.environ.get("LEAVE_SECONDS", "@{leave_seconds}"))
STOP = os.environ.get("STOP_COMMAND", "systemctl stop sample-service.service").split()
# A new process starts not leaving: the health path answers again and the gateway brings the VM back.
RESTART = os.environ.get("RESTART_COMMAND", "systemctl restart sample-service.service").split()
POLL_SECONDS = float(os.environ.get("POLL_SECONDS", "10"))
# The first scheduledevents GET enables Scheduled Events for this VM and may take up to two minutes to
# answer ("Azure Metadata Service: Scheduled Events for Linux VMs", Enabling and disabling).
EVENTS_TIMEOUT_SECONDS = 120
TIMEOUT_SECONDS = 5
# Host maintenance that restarts this VM, and so the service, while the gateway would still route to it.
REBOOTS = ("Reboot", "Redeploy")


def call(url, body=None, timeout=TIMEOUT_SECONDS):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Metadata": "true"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode()


def events(document, vm_name, types, statuses=("Scheduled",)):
    """The IDs of this VM's events of these types and statuses."""
    return [
        event["EventId"]
        for event in json.loads(document).get("Events", [])
        if event.get("EventType") in types
        and event.get("EventStatus") in statuses
        and vm_name in event.get("Resources", [])
    ]


def still_listed(vm_name, types, pending):
    """Those of `pending` the platform still lists, in any status; asks until the metadata service answers."""
    while True:
        try:
            document = call(EVENTS, timeout=EVENTS_TIMEOUT_SECONDS)
            listed = events(document, vm_name, types, statuses=("Scheduled", "Started"))
            return [event_id for event_id in pending if event_id in listed]
        except Exception as error:
            print(f"scheduled events: {error}", file=sys.stderr, flush=True)
            time.sleep(POLL_SECONDS)


def step_aside(vm_name, types, pending, stop):
    """Leaves the gateway, waits for it to notice, then (unless cancelled meanwhile) stops the service if
    `stop` and approves. True once it approved."""
    print(f"{'/'.join(types)} events {pending}: leaving the load balancer for {LEAVE_SECONDS:g}s", flush=True)
    subprocess.run(LEAVE, check=False)
    time.sleep(LEAVE_SECONDS)
    remaining = still_listed(vm_name, types, pending)
    if not remaining:
        print(f"{pending} cancelled: restarting the service", flush=True)
        subprocess.run(RESTART, check=False)
        return False
    if stop:
        print("stopping the service", flush=True)
        # Blocks until the service has exited (its grace, or systemd's TimeoutStopSec at most).
        subprocess.run(STOP, check=False)
    call(EVENTS, {"StartRequests": [{"EventId": event_id} for event_id in remaining]})
    print(f"approved {remaining}", flush=True)
    return True


def watch_once(vm_name):
    """Handles this VM's pending terminations, else its reboots; True once it approved one."""
    document = call(EVENTS, timeout=EVENTS_TIMEOUT_SECONDS)
    terminations = events(document, vm_name, ("Terminate",))
    if terminations:
        return step_aside(vm_name, ("Terminate",), terminations, stop=True)
    reboots = events(document, vm_name, REBOOTS)
    if reboots:
        # No stop: the reboot stops the service, and a cancelled one must not leave it stopped.
        return step_aside(vm_name, REBOOTS, reboots, stop=False)
    return False


def main():
    vm_name = None
    while True:
        try:
            vm_name = vm_name or call(VM_NAME).strip()
            if watch_once(vm_name):
                # The VM is about to go or reboot; if it does not, systemd restarts the watcher.
                return 0
        except Exception as error:  # the metadata service can be briefly unreachable; keep watching
            print(f"scheduled events: {error}", file=sys.stderr, flush=True)
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(main())

"""An edge box in its own network namespace: a WAN veth to the hub's machine (the 4G uplink) and a LAN veth to
the cameras, so cutting or throttling the uplink leaves the box probing its cameras as in a commune.

    host ──(wan-h 10.200.N.1)═══veth═══(wan-b 10.200.N.2)── namespace "drill-N" ──(lan-b 10.201.N.2)═══veth═══(lan-h 10.201.N.1)── cameras

Needs root (`ip netns`, `ip link`, `tc`); this machine has veth and the `tbf` qdisc but no `netem`.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from devtools.services import require


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require("ip"), *args], check=check, capture_output=True, text=True)


@dataclass
class NetBox:
    n: int  # 1..250, makes the names and subnets unique among concurrent drills

    @property
    def name(self) -> str:
        return f"drill{self.n}"

    @property
    def wan_host(self) -> str:
        return f"10.200.{self.n}.1"

    @property
    def wan_box(self) -> str:
        return f"10.200.{self.n}.2"

    @property
    def lan_host(self) -> str:
        return f"10.201.{self.n}.1"

    @property
    def wan_if(self) -> str:
        return f"dwh{self.n}"

    @property
    def lan_if(self) -> str:
        return f"dlh{self.n}"

    @classmethod
    def create(cls) -> NetBox:
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root")
        taken = set(_ip("netns", "list").stdout.split())
        n = next(i for i in range((os.getpid() % 200) + 1, 251) if f"drill{i}" not in taken)
        box = cls(n)
        box._setup()
        return box

    def _setup(self) -> None:
        ns = self.name
        _ip("netns", "add", ns)
        try:
            pairs = ((self.wan_if, f"dwb{self.n}", "10.200"), (self.lan_if, f"dlb{self.n}", "10.201"))
            for host_if, box_if, net in pairs:
                _ip("link", "add", host_if, "type", "veth", "peer", "name", box_if)
                _ip("link", "set", box_if, "netns", ns)
                _ip("addr", "add", f"{net}.{self.n}.1/24", "dev", host_if)
                _ip("link", "set", host_if, "up")
                _ip("-n", ns, "addr", "add", f"{net}.{self.n}.2/24", "dev", box_if)
                _ip("-n", ns, "link", "set", box_if, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        except subprocess.CalledProcessError as exc:
            self.destroy()
            raise RuntimeError(f"cannot build the drill namespace: {exc.stderr.strip()}") from None

    def exec_prefix(self) -> list[str]:
        return [require("ip"), "netns", "exec", self.name]

    def uplink(self, up: bool) -> None:
        """The commune's 4G goes away (or comes back): the WAN veth is set down on both ends."""
        state = "up" if up else "down"
        _ip("link", "set", self.wan_if, state)
        _ip("-n", self.name, "link", "set", f"dwb{self.n}", state)

    def throttle(self, rate_kbit: int, burst_kb: int = 16, latency_ms: int = 400) -> None:
        """A token bucket on both directions of the uplink: what 4G gives a commune on a bad day."""
        tc = require("tc")
        spec = ["tbf", "rate", f"{rate_kbit}kbit", "burst", f"{burst_kb}kb", "latency", f"{latency_ms}ms"]
        subprocess.run([tc, "qdisc", "replace", "dev", self.wan_if, "root", *spec], check=True)
        subprocess.run(
            [*self.exec_prefix(), tc, "qdisc", "replace", "dev", f"dwb{self.n}", "root", *spec], check=True
        )

    def destroy(self) -> None:
        # Deleting the namespace removes its veth ends, and with them the host ends.
        _ip("netns", "del", self.name, check=False)
        for dev in (self.wan_if, self.lan_if):
            _ip("link", "del", dev, check=False)

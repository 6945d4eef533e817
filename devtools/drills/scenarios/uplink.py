"""The commune's uplink cut (the box's WAN veth down), then restored: nothing lost, true times, the outage is the
box's and is told once."""

from __future__ import annotations

import time
from pathlib import Path

from devtools.drills import ledger
from devtools.drills.report import Outcome
from devtools.drills.scenarios.common import Scenario, books_outcome, running, steady, wait
from devtools.drills.stack import StackOptions

CUT_EXPECTED = (
    "no health lost, stored at device time; camera broken during the cut recorded at its true time; "
    "box offline once, no per-camera alert"
)


def cut(workdir: Path, short: bool) -> Outcome:
    cut_s = 14.0 if short else 45.0
    with running(workdir, StackOptions(netns=True)) as stack:
        assert stack.net is not None and stack.camsim is not None
        steady(stack)
        broken = stack.cameras[-1]
        t_cut = time.time()
        stack.net.uplink(False)
        time.sleep(2)
        t_break = time.time()
        stack.camsim.stop_stream(broken)  # the box sees this alone; the hub hears of it after the cut
        wait(
            "the hub to see the box gone",
            lambda: ledger.agent_state(stack) in ("offline", "stale"),
            cut_s + 20,
        )
        state_during = ledger.agent_state(stack)
        cams_during = ledger.camera_states(stack)
        time.sleep(max(0.0, t_cut + cut_s - time.time()))
        t_heal = time.time()
        stack.net.uplink(True)
        healed = time.monotonic()
        wait("the box back online", lambda: ledger.agent_state(stack) == "online", 60)
        wait(
            f"{broken} offline at the hub",
            lambda: ledger.camera_states(stack).get(broken) == "offline",
            60,
        )
        time.sleep(3)  # let the alert engine evaluate after the replay
        fired = ledger.alerts_fired(stack)
        cam_trans = ledger.transitions(stack, "camera")
        went_off = [at for key, at, _, to in cam_trans if key.endswith(broken) and to == "offline"]
        # The wall shows the box's cameras as stale (the box's outage), never as offline on their own.
        others = [
            (k, to)
            for k, at, _, to in cam_trans
            if not k.endswith(broken) and t_cut <= at <= t_heal and to == "offline"
        ]
        true_time = bool(went_off) and t_break <= went_off[0] < t_heal
        sent, dup = ledger.notices(stack)
        cam_alerts = [k for k in fired if k.startswith("camera")]
        out = books_outcome("uplink_cut", CUT_EXPECTED, stack, healed, within=30 if short else 120)
        checks = {
            "transition at true time": true_time,
            "healthy cameras never offline": not others,
            "agent_offline told once": fired.get("agent_offline", 0) == 1,
            "no camera alert for the cut": all(k == "camera_offline" for k in cam_alerts)
            and fired.get("camera_offline", 0) <= 1,
            "no notice twice": dup == 0,
        }
        off_at = f"{went_off[0] - t_break:+.1f} s after the break" if went_off else "missing"
        out.observed += (
            f"; during the cut box={state_during}, cameras={sorted(set(cams_during.values()))}; "
            f"{broken} offline {off_at}; alerts {dict(fired)}; {sent} notices, {dup} twice"
        )
        failed = [k for k, ok in checks.items() if not ok]
        if failed:
            out.observed += "; FAILED: " + ", ".join(failed)
        out.passed = out.passed and not failed
        out.duplicated = dup
        return out


SCENARIOS = [Scenario("uplink_cut", CUT_EXPECTED, cut)]

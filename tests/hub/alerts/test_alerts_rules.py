"""Alert rules and grouping as pure functions of facts, state, settings and a fixed `now`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.alerts.config import AlertsConfig, RuleSettings, effective
from hub.alerts.grouping import GroupState, step_groups
from hub.alerts.rules import AlertState, inhibited, inhibiting_devices, step_alerts
from hub.alerts.silences import SilenceRule, silenced_by
from hub.core.facts import AlertNotice, Fact, FactKind

T0 = 1_800_000_000.0
CFG = AlertsConfig()


def defaults(kind: FactKind, district: str) -> RuleSettings:
    return CFG.rules[kind]


def cam(i: int, since: float = T0, commune: str = "phu-linh", parent: str | None = None) -> Fact:
    key = f"soc-son/{commune}/cam-{i:02d}"
    return Fact(
        FactKind.CAMERA_OFFLINE, "soc-son", commune, key, since, f"Camera {i:02d}", "Mất tín hiệu", parent
    )


@dataclass
class Engine:
    """The service's round without I/O: rules, suppression, grouping."""

    settings: object = defaults
    alerts: dict[str, AlertState] = field(default_factory=dict)
    groups: dict[str, GroupState] = field(default_factory=dict)
    silences: list[SilenceRule] = field(default_factory=list)
    acks: set[tuple[str, int]] = field(default_factory=set)
    sent: list[AlertNotice] = field(default_factory=list)

    def step(self, now: float, facts: Iterable[Fact], may_resolve: bool = True) -> list[AlertNotice]:
        st = step_alerts(self.alerts, facts, self.settings, now, may_resolve=may_resolve)  # type: ignore[arg-type]
        self.alerts = st.alerts
        parents = inhibiting_devices(self.alerts.values())
        suppressed = {
            a.id
            for a in self.alerts.values()
            if inhibited(a, parents) or silenced_by(a, self.silences, now) is not None
        }
        acked = {a.id for a in self.alerts.values() if (a.id, a.episode) in self.acks}
        g = step_groups(
            self.groups, self.alerts.values(), self.settings, now, suppressed=suppressed, acked=acked
        )  # type: ignore[arg-type]
        self.groups = g.groups
        self.sent += g.notices
        return g.notices

    def run(self, start: float, end: float, facts_at: object, every: float = 2.0) -> list[AlertNotice]:
        out: list[AlertNotice] = []
        t = start
        while t <= end:
            out += self.step(t, facts_at(t))  # type: ignore[operator]
            t += every
        return out


def test_pending_period_holds_back_a_short_condition() -> None:
    s = {FactKind.CAMERA_PROBLEM: CFG.rules[FactKind.CAMERA_PROBLEM]}
    assert s[FactKind.CAMERA_PROBLEM].for_s == 60
    f = Fact(FactKind.CAMERA_PROBLEM, "soc-son", "phu-linh", "soc-son/phu-linh/c1", T0, "C1", "Bị che")
    e = Engine()
    e.step(T0 + 1, [f])
    (a,) = e.alerts.values()
    assert a.status == "pending"
    e.step(T0 + 59, [f])
    assert next(iter(e.alerts.values())).status == "pending"
    e.step(T0 + 60, [f])
    assert next(iter(e.alerts.values())).status == "firing"
    # A condition shorter than the pending period ends quietly: no notice ever.
    e2 = Engine()
    assert e2.run(T0, T0 + 40, lambda t: [f] if t < T0 + 30 else []) == []
    assert next(iter(e2.alerts.values())).status == "resolved"


def test_one_camera_fires_after_group_wait_and_resolves_after_hysteresis() -> None:
    e = Engine()
    down_until = T0 + 300
    notices = e.run(T0, T0 + 600, lambda t: [cam(1)] if t < down_until else [])
    firing = [n for n in notices if n.status == "firing"]
    resolved = [n for n in notices if n.status == "resolved"]
    assert len(firing) == 1 and len(resolved) == 1
    assert firing[0].created_at == T0 + CFG.rules[FactKind.CAMERA_OFFLINE].group_wait_s
    assert firing[0].snapshot_camera == "soc-son/phu-linh/cam-01"
    # Recovery hysteresis: resolved only after the condition stayed away clear_s.
    assert (
        resolved[0].created_at >= down_until - 2 + CFG.rules[FactKind.CAMERA_OFFLINE].clear_s
    )  # last seen at -2 s
    assert resolved[0].items[0].until is not None and resolved[0].open_items == 0
    # A blip shorter than the hysteresis after firing is absorbed: no resolved + firing pair.
    e2 = Engine()
    notices = e2.run(T0, T0 + 400, lambda t: [] if T0 + 100 <= t < T0 + 130 else [cam(1)])
    assert [n.status for n in notices] == ["firing"]


def test_twelve_cameras_of_a_commune_are_one_notice() -> None:
    e = Engine()
    # Probes are spread: the cameras are seen down over a few seconds, all within group_wait.
    facts = lambda t: [cam(i, since=T0 + i * 0.5) for i in range(12) if t >= T0 + i * 0.5]  # noqa: E731
    notices = e.run(T0, T0 + 120, facts)
    assert len(notices) == 1
    (n,) = notices
    assert n.status == "firing" and len(n.items) == 12 and n.open_items == 12
    assert n.district == "soc-son" and n.commune == "phu-linh" and n.kind == FactKind.CAMERA_OFFLINE
    assert n.link_path == "/alerts?kind=camera_offline&district=soc-son&commune=phu-linh"
    # Another commune is its own group.
    other = e.step(T0 + 130, [*facts(T0 + 130), cam(1, commune="dong-xuan", since=T0 + 130)])
    assert other == []
    later = e.step(T0 + 145, [*facts(T0 + 145), cam(1, commune="dong-xuan", since=T0 + 130)])
    assert [n.commune for n in later] == ["dong-xuan"]


def test_changes_after_the_first_notice_are_batched_per_group_interval() -> None:
    e = Engine()
    e.run(T0, T0 + 20, lambda t: [cam(1)])
    assert len(e.sent) == 1
    # Camera 2 joins, camera 1 recovers: one resolved (camera 1) and one firing (camera 2) notice, not before
    # group_interval after the first notice.
    e.run(T0 + 22, T0 + 200, lambda t: [cam(2, since=T0 + 22)])
    statuses = [(n.status, [i.device for i in n.items]) for n in e.sent[1:]]
    assert statuses == [
        ("firing", ["soc-son/phu-linh/cam-01", "soc-son/phu-linh/cam-02"]),
        ("resolved", ["soc-son/phu-linh/cam-01"]),
    ]
    gi = CFG.rules[FactKind.CAMERA_OFFLINE].group_interval_s
    assert e.sent[1].created_at >= e.sent[0].created_at + gi
    assert e.sent[2].created_at >= e.sent[1].created_at + gi
    assert e.sent[2].open_items == 1


def test_flapping_alert_is_held_firing_instead_of_renotifying() -> None:
    s = CFG.rules[FactKind.CAMERA_OFFLINE].model_copy(update={"clear_s": 10, "group_interval_s": 0})
    e = Engine(settings=lambda k, d: s)
    # Down 30 s, up 30 s, over and over for 20 minutes.
    notices = e.run(T0, T0 + 1200, lambda t: [cam(1)] if int(t - T0) % 60 < 30 else [])
    firing = [n for n in notices if n.status == "firing"]
    assert len(firing) == s.flap_count  # once per episode until it counts as flapping, then held
    a = next(iter(e.alerts.values()))
    assert a.flapping and a.status == "firing"
    # Once it stays away flap_clear_s it resolves, once.
    quiet = e.run(T0 + 1230, T0 + 1230 + s.flap_clear_s + 10, lambda t: [])
    assert [n.status for n in quiet] == ["resolved"]


def test_offline_agent_inhibits_its_cameras() -> None:
    agent = "soc-son/phu-linh/box-1"
    box = Fact(FactKind.AGENT_OFFLINE, "soc-son", "phu-linh", agent, T0, "box-1", "Hộp biên ngắt kết nối")
    e = Engine()
    notices = e.run(T0, T0 + 120, lambda t: [box, *(cam(i, parent=agent) for i in range(5))])
    assert [(n.kind, n.status) for n in notices] == [(FactKind.AGENT_OFFLINE, "firing")]
    # The box comes back and its cameras report they are fine: no camera alert was ever told, none resolves.
    after = e.run(T0 + 122, T0 + 400, lambda t: [])
    assert [(n.kind, n.status) for n in after] == [(FactKind.AGENT_OFFLINE, "resolved")]
    # While the parent is away, a child whose fact vanished is held, not resolved.
    e2 = Engine()
    e2.run(T0, T0 + 30, lambda t: [cam(1, parent=agent)])
    assert [n.status for n in e2.sent] == ["firing"]
    e2.run(T0 + 32, T0 + 300, lambda t: [box])
    child = next(a for a in e2.alerts.values() if a.kind == FactKind.CAMERA_OFFLINE)
    assert child.status == "firing"
    assert [n.kind for n in e2.sent[1:]] == [FactKind.AGENT_OFFLINE]


def test_silence_and_maintenance_windows() -> None:
    maint = SilenceRule(1, "maintenance", "soc-son", "phu-linh", None, None, T0 - 10, T0 + 100)
    e = Engine(silences=[maint])
    assert e.run(T0, T0 + 98, lambda t: [cam(1)]) == []
    # When the window ends the alert is told (it is still down).
    later = e.run(T0 + 100, T0 + 130, lambda t: [cam(1)])
    assert [n.status for n in later] == ["firing"]
    # Device silence matches only that device; district silence all of its communes.
    a1 = next(iter(e.alerts.values()))
    dev = SilenceRule(2, "silence", "soc-son", None, None, "soc-son/phu-linh/cam-02", T0, T0 + 50)
    assert silenced_by(a1, [dev], T0 + 1) is None
    dist = SilenceRule(3, "silence", "soc-son", None, "camera_offline", None, T0, T0 + 50)
    assert silenced_by(a1, [dev, dist], T0 + 1) == 3 and silenced_by(a1, [dist], T0 + 50) is None


def test_ack_stops_repeats() -> None:
    s = CFG.rules[FactKind.CAMERA_OFFLINE].model_copy(update={"repeat_s": 600})
    e = Engine(settings=lambda k, d: s)
    notices = e.run(T0, T0 + 1300, lambda t: [cam(1)], every=10)
    assert [n.status for n in notices] == ["firing", "repeat", "repeat"]
    a = next(iter(e.alerts.values()))
    e.acks.add((a.id, a.episode))
    assert e.run(T0 + 1310, T0 + 4000, lambda t: [cam(1)], every=10) == []
    # A new episode is not covered by the old acknowledgement.
    e.run(T0 + 4010, T0 + 4100, lambda t: [], every=10)
    again = e.run(T0 + 4110, T0 + 4200, lambda t: [cam(1, since=T0 + 4110)], every=10)
    assert [n.status for n in again] == ["firing"]


def test_event_ids_are_deterministic_and_distinct() -> None:
    run = lambda: Engine().run(T0, T0 + 400, lambda t: [cam(1)] if t < T0 + 200 else [])  # noqa: E731
    a, b = run(), run()
    assert [n.event_id for n in a] == [n.event_id for n in b]
    assert len({n.event_id for n in a}) == len(a) == 2


def test_nothing_resolves_while_facts_may_be_incomplete() -> None:
    e = Engine()
    e.run(T0, T0 + 20, lambda t: [cam(1)])
    st = step_alerts(e.alerts, [], defaults, T0 + 500, may_resolve=False)
    assert next(iter(st.alerts.values())).status == "firing" and not st.changed


def test_district_override_merges_over_defaults() -> None:
    base = CFG.rules[FactKind.CAMERA_OFFLINE]
    s = effective(base, {"group_wait_s": 30})
    assert s.group_wait_s == 30 and s.clear_s == base.clear_s
    cfg = AlertsConfig.model_validate({"rules": {"agent_offline": {"for_s": 5}}})
    assert cfg.rules[FactKind.AGENT_OFFLINE].for_s == 5
    assert cfg.rules[FactKind.AGENT_OFFLINE].severity == "critical"  # kept from the kind's defaults
